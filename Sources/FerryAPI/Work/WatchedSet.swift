import FerryKube
import Synchronization

/// The objects of one kind that exist now in one namespace (with a label selector), kept current by
/// a list and watch (`FerryClient.maintain`) instead of listing them again and again: following a
/// thousand work units costs one watch, not a list of all of them every half second.
public final class WatchedSet<R: FerryObject>: Sendable {
    private struct State {
        var objects: [String: R] = [:]
        var synced = false
        /// Names seen deleted: a DELETED event, or missing from a list that followed a lost watch.
        var deleted: Set<String> = []
    }

    private let state = Mutex(State())
    private let compact: Bool

    /// `compact`: keep each object's typed spec and status with only its identity
    /// (`FerryObject.compacted`), not the whole object as read.
    public init(compact: Bool = false) {
        self.compact = compact
    }

    private func keep(_ object: R) -> R { compact ? object.compacted : object }

    /// The objects by name and the names seen deleted, once the first list has come. An object
    /// created after the watch began but not yet heard of is in neither.
    public var currentAndDeleted: (objects: [String: R], deleted: Set<String>)? {
        state.withLock { $0.synced ? ($0.objects, $0.deleted) : nil }
    }

    func apply(_ event: ListWatchEvent) {
        state.withLock { state in
            switch event {
            case .synced(let objects, _):
                let listed = Dictionary(objects.compactMap { try? keep(R($0)) }.map { ($0.name, $0) }) { _, last in last }
                for name in state.objects.keys where listed[name] == nil { state.deleted.insert(name) }
                state.objects = listed
                state.synced = true
            case .event(.added(let object)), .event(.modified(let object)):
                // An object that does not decode is left as it last was (a later write fixes it).
                if let value = try? keep(R(object)) { state.objects[value.name] = value }
            case .event(.deleted(let object)):
                state.objects[object.name] = nil
                state.deleted.insert(object.name)
            case .event:
                break
            }
        }
    }
}

extension FerryClient {
    /// Keeps `set` equal to what exists until the task is cancelled; throws when the watch cannot go on.
    public func maintain<R: FerryObject>(_ set: WatchedSet<R>, namespace: String, labelSelector: String?) async throws {
        let resource = try await resource(R.kind)
        for try await event in kube.listAndWatch(resource, namespace: namespace, labelSelector: labelSelector) {
            set.apply(event)
        }
        try Task.checkCancellation()
        throw ClusterError.watchEnded(resource: resource.name)
    }
}
