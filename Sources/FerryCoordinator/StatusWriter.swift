import FerryAPI
import FerryKube
import FerryMetrics
import FerrySystem
import Foundation

/// Writes the status of Ferry's custom resources through their types, and carries a job
/// (Backup or Restore) from InProgress to its final status. A final status is written until it
/// lands: conflicts re-read the object, other failures back off and try again, so no job stays
/// InProgress after its work ended (unless this process stops first; the next leader then
/// takes the job up again).
struct StatusWriter: Sendable {
    let client: FerryClient
    /// Where the outcomes of Backups and Restores are counted (nil: nowhere).
    var metrics: ClusterMetrics?
    /// Where their starts and outcomes are told as Kubernetes Events (nil: nowhere).
    var events: EventRecorder?
    let log: @Sendable (String) -> Void
    /// The longest wait between tries of a status write that must land.
    var maximumBackoff: Duration = .seconds(30)

    /// Changes the status of `value` once (conflicts are retried against the latest version).
    @discardableResult
    func update<R: FerryObject>(_ value: R, _ change: @escaping (inout R.Status) -> Void) async throws -> R? {
        try await client.updateStatus(value) { status, _ in
            change(&status)
            return true
        }
    }

    /// Changes a job's status once, cut to `JobStatusBounds` so it fits one write.
    @discardableResult
    func update<J: JobObject>(_ value: J, _ change: @escaping (inout J.Status) -> Void) async throws -> J? {
        try await client.updateStatus(value) { status, _ in
            change(&status)
            status = status.bounded()
            return true
        }
    }

    /// Changes the status until the write lands or the object is gone; only cancellation stops it.
    func persist<R: FerryObject>(_ value: R, what: String, _ change: @escaping (inout R.Status, R) -> Bool) async throws(CancellationError)
    {
        var delay: Duration = .milliseconds(200)
        while true {
            do {
                _ = try await client.updateStatus(value, change)
                return
            } catch ClusterError.kube(let error) where error.isRefusal {
                log("\(value.label): the API server refuses its \(what) (\(error)); not writing it")
                return
            } catch {
                log("\(value.label): writing its \(what) failed (\(error)); trying again in \(delay)")
            }
            do {
                try await Task.sleep(for: delay)
            } catch {
                throw CancellationError()
            }
            delay = min(delay * 2, maximumBackoff)
        }
    }

    /// Carries out a job: a finalizer (so deleting the job stops it and cleans up first), phase
    /// InProgress under `attempt`, then the status `perform` returns with the completion time, or
    /// phase Failed with the error; the finalizer goes once the final status is written. A job
    /// cancelled because it was deleted writes no status: `JobCleanup` takes over.
    ///
    /// A job that has not ended after `timeout` is stopped (`stop` removes what it made) and ends
    /// Failed with that reason.
    func carryOut<J: JobObject>(
        _ job: J, attempt: String, timeout: Duration, stop: @escaping @Sendable () async -> Void,
        _ perform: @escaping @Sendable () async throws -> J.Status
    ) async {
        let started = ContinuousClock.now
        let startTime = Date()
        do {
            guard let current = try await client.reread(job), current.object.deletionTimestamp == nil else {
                log("\(job.label): deleted before it started")
                return
            }
            try await client.setFinalizer(FerryLabels.jobFinalizer, present: true, on: current)
        } catch {
            log("\(job.label): cannot take it up: \(error)")
            _ = try? await update(job) { status in
                status.phase = .failed
                status.errors = ["the coordinator cannot mark it as its own (finalizer \(FerryLabels.jobFinalizer)): \(error)"]
            }
            return
        }
        do {
            var running = J.Status()
            running.phase = .inProgress
            running.attempt = attempt
            running.startTime = startTime
            try await persist(job, what: "start") { status, _ in
                status = running
                return true
            }
        } catch {
            return
        }
        await events?.record(job.object, .normal, reason: "Started", message: "\(J.kind.rawValue) started (attempt \(attempt))")
        var outcome: J.Status
        do {
            if let finished = try await Self.within(timeout, perform) {
                outcome = finished
                log("\(job.label): \(outcome.phase?.rawValue ?? "")")
            } else {
                log("\(job.label): did not end within \(Self.text(timeout)); stopping it")
                await stop()
                outcome = J.Status()
                outcome.phase = .failed
                outcome.errors = ["did not end within \(Self.text(timeout)) (spec.timeout)"]
            }
        } catch {
            if Task.isCancelled {
                log("\(job.label): stopped (deleted)")
                return
            }
            log("\(job.label) failed: \(error)")
            outcome = J.Status()
            outcome.phase = .failed
            outcome.errors = ["\(error)"]
        }
        outcome.attempt = attempt
        outcome.startTime = startTime
        outcome.completionTime = Date()
        if outcome.bounded() != outcome, let whole = try? JSONValue(encoding: outcome) {
            // The status keeps a part of the lists; the log keeps all of them.
            log("\(job.label): its status lists part of the outcome; the whole of it: \(whole.serializedString())")
        }
        let final = outcome
        do {
            try await persist(job, what: "final status") { status, current in
                // A job another attempt has taken over is left to it.
                guard current.status.attempt == attempt else { return false }
                var next = final
                if next.volumes == nil {
                    next.volumes = status.volumes
                    next.progress = status.progress
                    next.volumesOmitted = status.volumesOmitted
                }
                if next.hooks == nil { next.hooks = status.hooks }
                status = next.bounded()
                return true
            }
        } catch {
            return
        }
        await events?.recordOutcome(job.object, final)
        // Counted before the finalizer goes: a job whose finalizer is gone is counted.
        let plan = (job as? Backup).flatMap { $0.spec.plan ?? $0.spec.clusterPlan.map { "cluster/\($0)" } }
        metrics?.finished(
            J.kind, namespace: job.namespace ?? "", plan: plan, phase: final.phase ?? .failed,
            seconds: (ContinuousClock.now - started).seconds, bytesStored: (final as? BackupStatus)?.bytesStored,
            at: Date().timeIntervalSince1970)
        do {
            try await client.setFinalizer(FerryLabels.jobFinalizer, present: false, on: job)
        } catch {
            log("\(job.label): cannot remove its finalizer \(FerryLabels.jobFinalizer): \(error)")
        }
    }
}

extension KubeError {
    /// The server understood the request and will never accept it as it is (a write that does
    /// not fit the schema): trying again cannot help.
    var isRefusal: Bool {
        switch self {
        case .invalid, .badRequest: return true
        default: return false
        }
    }
}

extension StatusWriter {
    /// Changes the status of a BackupPlan or ClusterBackupPlan.
    func updatePlan(_ plan: ResolvedPlan, _ change: @escaping (inout BackupPlanStatus) -> Void) async throws {
        switch plan.kind {
        case .clusterBackupPlan: try await update(try ClusterBackupPlan(plan.object), change)
        default: try await update(try BackupPlan(plan.object), change)
        }
    }
}

extension StatusWriter {
    /// `body`'s result, or nil once `limit` has passed (`body` is then cancelled and waited for).
    static func within<T: Sendable>(_ limit: Duration, _ body: @escaping @Sendable () async throws -> T) async throws -> T? {
        try await withThrowingTaskGroup(of: T?.self) { group in
            group.addTask { try await body() }
            group.addTask {
                try await Task.sleep(for: limit)
                return nil
            }
            defer { group.cancelAll() }
            return try await group.next() ?? nil
        }
    }

    /// A timeout as `spec.timeout` writes it (90m, 6h, 2d).
    static func text(_ duration: Duration) -> String {
        let seconds = Int(duration.components.seconds)
        for (unit, size) in [("d", 86_400), ("h", 3_600), ("m", 60)] where seconds >= size && seconds % size == 0 {
            return "\(seconds / size)\(unit)"
        }
        return "\(seconds)s"
    }
}
