import FerryKube
import Foundation

/// Runs a handler on every event of a resource, for as long as the task runs: each watch starts
/// with the objects that exist (so a handler sees everything again after a watch ends and may
/// act twice: handlers are idempotent), and a failed watch or handler is logged and retried.
struct ResourceWatcher: Sendable {
    let client: KubeClient
    let log: @Sendable (String) -> Void

    func watch(
        apiVersion: String, kind: String, _ handle: @escaping @Sendable (WatchEvent) async throws -> Void
    ) async throws {
        while !Task.isCancelled {
            do {
                let resource = try await client.resource(apiVersion: apiVersion, kind: kind)
                for try await event in client.watch(resource, namespace: nil, resourceVersion: nil) {
                    do {
                        try await handle(event)
                    } catch is CancellationError {
                        return
                    } catch {
                        log("\(kind) \(event.object.map { "\($0.namespace.map { "\($0)/" } ?? "")\($0.name)" } ?? ""): \(error)")
                    }
                }
            } catch is CancellationError {
                return
            } catch {
                log("watching \(kind): \(error); watching again")
            }
            try await Task.sleep(for: .milliseconds(500))
        }
    }
}

extension KubeClient {
    /// The object, or nil when there is none.
    func find(_ resource: APIResource, namespace: String?, name: String) async throws(KubeError) -> KubeObject? {
        do {
            return try await get(resource, namespace: namespace, name: name)
        } catch {
            if case .notFound = error { return nil }
            throw error
        }
    }

    /// Creates the object; true when it was created, false when it existed.
    @discardableResult
    func createIfAbsent(_ resource: APIResource, _ object: KubeObject) async throws(KubeError) -> Bool {
        do {
            _ = try await create(resource, object)
            return true
        } catch {
            if case .alreadyExists = error { return false }
            throw error
        }
    }
}

extension WatchEvent {
    var isDeletion: Bool {
        if case .deleted = self { return true }
        return false
    }
}
