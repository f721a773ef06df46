import FerryKube
import FerrySystem
import Foundation

/// Writes the status of Ferry's custom resources (merge patches on the status subresource, so
/// a write never races a spec change).
struct StatusWriter: Sendable {
    let client: KubeClient
    /// Where the outcomes of Backups and Restores are counted (nil: nowhere).
    var metrics: ClusterMetrics?

    func patch(_ kind: FerryKind, _ object: KubeObject, _ status: JSONValue) async throws(ClusterError) {
        let resource = try await kind.resource(client)
        do {
            _ = try await client.patch(resource, namespace: object.namespace, name: object.name, type: .merge, patch: ["status": status],
                                       subresource: "status")
        } catch {
            throw .kube(error)
        }
    }

    /// Carries out a Backup or Restore: phase InProgress under `attempt`, then the status
    /// `perform` returns with the completion time, or phase Failed with the error.
    func carryOut(_ kind: FerryKind, _ object: KubeObject, attempt: String, log: @Sendable (String) -> Void,
                  _ perform: () async throws -> JSONValue) async {
        let started = ContinuousClock.now
        let count = { (phase: String, stored: Int64?) -> Void in
            let plan = object.optionalString("plan") ?? object.optionalString("clusterPlan").map { "cluster/\($0)" }
            metrics?.finished(kind, namespace: object.namespace ?? "", plan: plan, phase: phase,
                              seconds: (ContinuousClock.now - started).seconds, bytesStored: stored,
                              at: Date().timeIntervalSince1970)
        }
        do {
            try await patch(kind, object, ["phase": "InProgress", "attempt": .string(attempt), "startTime": Self.now(), "errors": .null, "warnings": .null])
            let outcome = try await perform()
            try await patch(kind, object, outcome.merging(["completionTime": Self.now()]))
            log("\(object.label): \(outcome["phase"]?.stringValue ?? "")")
            count(outcome["phase"]?.stringValue ?? "Completed", outcome["bytesStored"]?.intValue)
        } catch {
            log("\(object.label) failed: \(error)")
            try? await patch(kind, object, ["phase": "Failed", "errors": [.string("\(error)")], "completionTime": Self.now()])
            count("Failed", nil)
        }
    }

    static func now() -> JSONValue {
        .string(Date().formatted(Date.ISO8601FormatStyle()))
    }
}
