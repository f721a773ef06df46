import FerryAPI
import FerryKube
import Foundation
import Synchronization

/// Leader election on a `coordination.k8s.io/v1` Lease, as client-go does it: the holder renews
/// `renewTime` every sixth of the lease; a candidate takes the lease over only after seeing the
/// record unchanged for a whole lease duration on its own clock (clocks of different nodes are
/// never compared). The holder stops acting once it has gone `renewDeadline` (two thirds of the
/// lease) without a renewal, counted from when its last successful renewal was sent, so it has
/// stopped before any candidate can take over: two coordinators never act at once. Every write
/// is conditional on the resourceVersion read.
public struct LeaderElection: Sendable {
    public let client: KubeClient
    public let namespace: String
    public let name: String
    public let identity: String
    public let leaseDuration: Duration
    let log: @Sendable (String) -> Void

    public init(
        client: KubeClient, namespace: String, name: String = "ferry-coordinator", identity: String, leaseDuration: Duration,
        log: @escaping @Sendable (String) -> Void
    ) {
        self.client = client
        self.namespace = namespace
        self.name = name
        self.identity = identity
        self.leaseDuration = leaseDuration
        self.log = log
    }

    /// Returns once this process holds the lease.
    public func acquire() async throws {
        let leases = try await resource()
        var observed: (record: String, resourceVersion: String, since: ContinuousClock.Instant)?
        var announced = false
        while true {
            try Task.checkCancellation()
            let now = ContinuousClock.now
            do {
                let lease = try await client.get(leases, namespace: namespace, name: name)
                let holder = lease["spec"]?["holderIdentity"]?.stringValue ?? ""
                let record = "\(holder)|\(lease["spec"]?["renewTime"]?.stringValue ?? "")"
                if observed?.record != record { observed = (record, lease.resourceVersion ?? "", now) }
                let expired = now - observed!.since >= leaseDuration
                if holder.isEmpty || holder == identity || expired {
                    let transitions = (lease["spec"]?["leaseTransitions"]?.intValue ?? 0) + (holder == identity ? 0 : 1)
                    var taken = lease
                    taken.json["spec"] = spec(transitions: transitions, acquired: holder == identity ? lease["spec"]?["acquireTime"] : nil)
                    _ = try await client.update(leases, taken)
                    log(
                        """
                        became the leader \
                        (lease \(namespace)/\(name)\(holder.isEmpty || holder == identity ? "" : ", taken over from \(holder)"))
                        """
                    )
                    return
                }
                if !announced {
                    log("waiting for leadership: lease \(namespace)/\(name) is held by \(holder)")
                    announced = true
                }
            } catch .notFound {
                var lease = KubeObject(apiVersion: "coordination.k8s.io/v1", kind: "Lease", namespace: namespace, name: name)
                lease.json["spec"] = spec(transitions: 0, acquired: nil)
                do {
                    _ = try await client.create(leases, lease)
                    log("became the leader (lease \(namespace)/\(name) created)")
                    return
                } catch .alreadyExists {
                    // Another candidate was first; look again.
                } catch {
                    throw ClusterError.kube(error)
                }
            } catch .conflict {
                // Someone wrote the lease between our read and write; look again.
            } catch {
                throw ClusterError.kube(error)
            }
            try await Task.sleep(for: leaseDuration / 4)
        }
    }

    /// How long the holder may go without a renewal before it stops acting.
    public var renewDeadline: Duration { leaseDuration * 2 / 3 }

    /// Renews the lease until it is lost (another holder, or no successful renewal within
    /// `renewDeadline`); then returns, and the caller must stop acting as leader at once.
    public func hold() async throws {
        let leases = try await resource()
        var lastRenewal = ContinuousClock.now
        while true {
            // Sleep no later than the deadline: past it the lease may be another's.
            let remaining = renewDeadline - (ContinuousClock.now - lastRenewal)
            guard remaining > .zero else {
                log("lost leadership: could not renew lease \(namespace)/\(name) within \(renewDeadline)")
                return
            }
            try await Task.sleep(for: min(leaseDuration / 6, remaining))
            let sent = ContinuousClock.now
            do {
                // A renewal answered after the deadline is no use: stop waiting for it then.
                let client = self.client, namespace = self.namespace, name = self.name
                var lease = try await Self.within(renewDeadline - (ContinuousClock.now - lastRenewal)) {
                    try await client.get(leases, namespace: namespace, name: name)
                }
                let holder = lease["spec"]?["holderIdentity"]?.stringValue ?? ""
                guard holder == identity else {
                    log("lost leadership: lease \(namespace)/\(name) is now held by \(holder.isEmpty ? "nobody" : holder)")
                    return
                }
                lease.json.setValue(Self.microTime(Date()), at: ["spec", "renewTime"])
                let renewed = lease
                _ = try await Self.within(renewDeadline - (ContinuousClock.now - lastRenewal)) { try await client.update(leases, renewed) }
                lastRenewal = sent
            } catch {
                if ContinuousClock.now - lastRenewal >= renewDeadline {
                    log("lost leadership: could not renew lease \(namespace)/\(name) within \(renewDeadline): \(error)")
                    return
                }
            }
        }
    }

    func resource() async throws(ClusterError) -> APIResource {
        do {
            return try await client.resource(apiVersion: "coordination.k8s.io/v1", kind: "Lease")
        } catch {
            throw .kube(error)
        }
    }

    func spec(transitions: Int64, acquired: JSONValue?) -> JSONValue {
        let now = Self.microTime(Date())
        return [
            "holderIdentity": .string(identity), "leaseDurationSeconds": .int(leaseDuration.components.seconds),
            "acquireTime": acquired ?? now, "renewTime": now, "leaseTransitions": .int(transitions),
        ]
    }

    /// Kubernetes MicroTime: RFC 3339 with exactly six fractional digits, UTC.
    static func microTime(_ date: Date) -> JSONValue {
        let seconds = date.timeIntervalSince1970.rounded(.down)
        let micros = Int((date.timeIntervalSince1970 - seconds) * 1_000_000)
        let base = Date(timeIntervalSince1970: seconds).formatted(Date.ISO8601FormatStyle()).dropLast() // drop "Z"
        return .string("\(base).\(String(format: "%06d", micros))Z")
    }

    /// The renewal took longer than the time left before the deadline.
    struct RenewalTimedOut: Error, CustomStringConvertible {
        var description: String { "the API server did not answer before the renewal deadline" }
    }

    /// `body`'s result, or `RenewalTimedOut` once `limit` has passed (the request is then
    /// cancelled and its answer ignored).
    static func within<T: Sendable>(_ limit: Duration, _ body: @escaping @Sendable () async throws -> T) async throws -> T {
        let settled = Settled()
        let claim = { @Sendable in settled.claim() }
        return try await withCheckedThrowingContinuation { continuation in
            let work = Task {
                do {
                    let value = try await body()
                    if claim() { continuation.resume(returning: value) }
                } catch {
                    if claim() { continuation.resume(throwing: error) }
                }
            }
            Task {
                try? await Task.sleep(for: max(limit, .zero))
                if claim() {
                    work.cancel()
                    continuation.resume(throwing: RenewalTimedOut())
                }
            }
        }
    }

    /// Which of two racing tasks answers first.
    final class Settled: Sendable {
        private let done = Mutex(false)

        /// True for the first caller only.
        func claim() -> Bool {
            done.withLock { done in
                defer { done = true }
                return !done
            }
        }
    }
}
