import FerryKube
import Synchronization

/// Objects read from the API server in the last `maximumAge`, by resource, namespace and name.
/// An agent carrying out thousands of units of one Backup reads its Target and the Target's
/// Secrets once every few seconds instead of once per unit. What it saves a read of may be that
/// old: a Secret rotated just now is seen on the next read; a Target that points at another
/// repository meanwhile is still caught (units name the repository they expect).
public final class RecentReads: Sendable {
    private struct Key: Hashable {
        var resource: String
        var namespace: String
        var name: String
    }

    private let maximumAge: Duration
    /// A read under way is shared: units that start together read once.
    private let entries = Mutex<[Key: (read: Task<Result<KubeObject, KubeError>, Never>, at: ContinuousClock.Instant)]>([:])

    public init(maximumAge: Duration = .seconds(10)) {
        self.maximumAge = maximumAge
    }

    /// The object as read at most `maximumAge` ago (or being read now), or as `client` reads
    /// it now. A failed read (not found included) is not kept: the next call asks again.
    public func get(_ resource: APIResource, namespace: String, name: String, from client: KubeClient) async throws(KubeError)
        -> KubeObject
    {
        let key = Key(resource: "\(resource.group)/\(resource.name)", namespace: namespace, name: name)
        let read = entries.withLock { entries in
            let now = ContinuousClock.now
            if let kept = entries[key], now - kept.at < maximumAge { return kept.read }
            entries = entries.filter { now - $0.value.at < maximumAge }
            let read = Task { () -> Result<KubeObject, KubeError> in
                do throws(KubeError) {
                    return .success(try await client.get(resource, namespace: namespace, name: name))
                } catch {
                    return .failure(error)
                }
            }
            entries[key] = (read, now)
            return read
        }
        let result = await read.value
        if case .failure = result {
            entries.withLock { entries in
                if entries[key]?.read == read { entries[key] = nil }
            }
        }
        return try result.get()
    }
}
