import FerryKube
import Foundation

/// Runs a handler on every event of a resource, for as long as the task runs: the objects that
/// exist first (as ADDED), then changes, from the client's list-and-watch (resumed where it
/// ended; a 410 Gone relists and hands over everything again, so handlers are idempotent). A
/// failed handler is logged and the next event handled; a failed watch is logged and started
/// again.
struct ResourceWatcher: Sendable {
    let client: KubeClient
    let log: @Sendable (String) -> Void

    func watch(
        apiVersion: String, kind: String, _ handle: @escaping @Sendable (WatchEvent) async throws -> Void
    ) async throws {
        while !Task.isCancelled {
            do {
                let resource = try await client.resource(apiVersion: apiVersion, kind: kind)
                for try await update in client.listAndWatch(resource, namespace: nil) {
                    let events: [WatchEvent]
                    switch update {
                    case .synced(let objects, _): events = objects.map(WatchEvent.added)
                    case .event(let event): events = [event]
                    }
                    for event in events {
                        do {
                            try await handle(event)
                        } catch is CancellationError {
                            return
                        } catch {
                            log("\(kind) \(event.object.map { "\($0.namespace.map { "\($0)/" } ?? "")\($0.name)" } ?? ""): \(error)")
                        }
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
