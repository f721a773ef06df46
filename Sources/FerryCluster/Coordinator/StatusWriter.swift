import FerryKube
import Foundation

/// Writes the status of Ferry's custom resources (merge patches on the status subresource, so
/// a write never races a spec change).
struct StatusWriter: Sendable {
    let client: KubeClient

    func patch(_ kind: FerryKind, _ object: KubeObject, _ status: JSONValue) async throws(ClusterError) {
        let resource = try await kind.resource(client)
        do {
            _ = try await client.patch(resource, namespace: object.namespace, name: object.name, type: .merge, patch: ["status": status],
                                       subresource: "status")
        } catch {
            throw .kube(error)
        }
    }

    static func now() -> JSONValue {
        .string(Date().formatted(Date.ISO8601FormatStyle()))
    }
}
