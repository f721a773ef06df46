import FerryKube
import Synchronization

extension KubeClient {
    /// Lists and watches a collection and hands `body` every object (from the list, and each
    /// later ADDED or MODIFIED event) that `isWork` accepts; the same object may come more than
    /// once. Returns only by throwing (the watch ended or failed).
    func forEachWorkItem(
        _ resource: APIResource, namespace: String?, labelSelector: String? = nil,
        where isWork: @Sendable (KubeObject) -> Bool, _ body: @Sendable (KubeObject) -> Void
    ) async throws {
        for try await event in listAndWatch(resource, namespace: namespace, labelSelector: labelSelector) {
            switch event {
            case .synced(let objects, _):
                for object in objects where isWork(object) { body(object) }
            case .event(.added(let object)), .event(.modified(let object)):
                if isWork(object) { body(object) }
            case .event:
                break
            }
        }
        throw ClusterError.repository("the watch of \(resource.name) ended")
    }
}

/// Runs `body` for each element of `stream`, at most `limit` at a time.
func forEachConcurrently<Element: Sendable>(_ stream: AsyncStream<Element>, limit: Int, _ body: @escaping @Sendable (Element) async -> Void) async {
    await withTaskGroup(of: Void.self) { group in
        var running = 0
        for await element in stream {
            if running >= max(1, limit) {
                await group.next()
                running -= 1
            }
            group.addTask { await body(element) }
            running += 1
        }
    }
}

/// Names already handed out, shared by the tasks that feed a work queue.
final class SeenSet: Sendable {
    private let names = Mutex<Set<String>>([])

    /// True the first time `name` is offered.
    func insert(_ name: String) -> Bool { names.withLock { $0.insert(name).inserted } }
}
