import FerryKube

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
