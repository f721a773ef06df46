import FerryKube
import Synchronization

/// What changed among the objects of one kind in one namespace (with a label selector) since it
/// was last asked, kept by a list and watch (`FerryClient.maintain`) instead of listing them again
/// and again: following a thousand work units costs one watch, not a list of all of them every half
/// second. It holds only the changes not yet taken, so its reader keeps the one copy of each object
/// (a whole set handed out on every look was copied whenever an event came in meanwhile).
public final class WatchedChanges<R: FerryObject>: Sendable {
    /// The objects added or modified (as last heard of) and the names deleted since the last take.
    public struct Changes: Sendable {
        public var changed: [String: R] = [:]
        /// Names seen deleted: a DELETED event, or missing from a list that followed a lost watch.
        public var deleted: Set<String> = []

        public init(changed: [String: R] = [:], deleted: Set<String> = []) {
            self.changed = changed
            self.deleted = deleted
        }
    }

    private struct State {
        var pending = Changes()
        /// The names that exist as last heard, to tell which ones a relist no longer has.
        var existing: Set<String> = []
        var synced = false
    }

    private let state = Mutex(State())
    private let compact: Bool

    /// `compact`: keep each object's typed spec and status with only its identity
    /// (`FerryObject.compacted`), not the whole object as read.
    public init(compact: Bool = false) {
        self.compact = compact
    }

    private func keep(_ object: R) -> R { compact ? object.compacted : object }

    /// The changes since the last take, once the first list has come (nil before). Every object
    /// of the first list, and of any list after a lost watch, comes as changed. An object created
    /// after the watch began but not yet heard of is in neither part.
    public func take() -> Changes? {
        state.withLock { state in
            guard state.synced else { return nil }
            defer { state.pending = Changes() }
            return state.pending
        }
    }

    func apply(_ event: ListWatchEvent) {
        state.withLock { state in
            switch event {
            case .synced(let objects, _):
                let listed = Dictionary(objects.compactMap { try? keep(R($0)) }.map { ($0.name, $0) }) { _, last in last }
                for name in state.existing where listed[name] == nil {
                    state.pending.changed[name] = nil
                    state.pending.deleted.insert(name)
                }
                for (name, object) in listed {
                    state.pending.changed[name] = object
                    state.pending.deleted.remove(name)
                }
                state.existing = Set(listed.keys)
                state.synced = true
            case .event(.added(let object)), .event(.modified(let object)):
                // An object that does not decode is left as it last was (a later write fixes it).
                if let value = try? keep(R(object)) {
                    state.pending.changed[value.name] = value
                    state.pending.deleted.remove(value.name)
                    state.existing.insert(value.name)
                }
            case .event(.deleted(let object)):
                state.pending.changed[object.name] = nil
                state.pending.deleted.insert(object.name)
                state.existing.remove(object.name)
            case .event:
                break
            }
        }
    }
}

extension FerryClient {
    /// Keeps `changes` gathering what changes until the task is cancelled; throws when the watch
    /// cannot go on.
    public func maintain<R: FerryObject>(_ changes: WatchedChanges<R>, namespace: String, labelSelector: String?) async throws {
        let resource = try await resource(R.kind)
        for try await event in kube.listAndWatch(resource, namespace: namespace, labelSelector: labelSelector) {
            changes.apply(event)
        }
        try Task.checkCancellation()
        throw ClusterError.watchEnded(resource: resource.name)
    }
}
