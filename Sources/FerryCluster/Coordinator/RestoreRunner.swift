import FerryKube
import FerryRepo
import FerryResources
import Foundation

/// Carries out one `Restore`: finds the snapshot (through a Backup, or a Target and snapshot id
/// when the Backup is gone with its namespace) and restores its objects into the Restore's own
/// namespace; cluster-scoped objects are left to an administrator (reported as skipped).
struct RestoreRunner: Sendable {
    let client: KubeClient
    let connector: TargetConnector
    let status: StatusWriter
    let log: @Sendable (String) -> Void

    func run(_ restore: KubeObject, attempt: String) async {
        do {
            try await status.patch(.restore, restore, ["phase": "InProgress", "attempt": .string(attempt), "startTime": StatusWriter.now(), "errors": .null])
            let outcome = try await perform(restore)
            try await status.patch(.restore, restore, outcome.merging(["completionTime": StatusWriter.now()]))
            log("\(restore.label): \(outcome["phase"]?.stringValue ?? "")")
        } catch {
            log("\(restore.label) failed: \(error)")
            try? await status.patch(.restore, restore, ["phase": "Failed", "errors": [.string("\(error)")], "completionTime": StatusWriter.now()])
        }
    }

    func perform(_ restore: KubeObject) async throws -> JSONValue {
        let namespace = restore.namespace ?? ""
        let (targetName, snapshotText) = try await source(restore, namespace: namespace)
        let target = try TargetSpec(try await FerryKind.target.get(client, namespace: namespace, name: targetName, neededBy: restore.label))
        let repository = try await connector.open(target)
        let snapshot = try await repository.snapshot(matching: snapshotText)
        guard let resources = snapshot.manifest.resources else {
            throw ClusterError.invalidSpec(object: restore.label, field: "spec", message: "snapshot \(snapshot.id.short) holds no Kubernetes objects")
        }
        var options = ResourceRestore.Options()
        options.confinedTo = namespace
        if let policy = restore.optionalString("existingResources") {
            guard let existing = ExistingResourcePolicy(rawValue: policy) else {
                throw ClusterError.invalidSpec(object: restore.label, field: "spec.existingResources", message: "must be skip or update, not \(policy)")
            }
            options.existing = existing
        }
        if let seconds = restore["spec"]?["waitTimeoutSeconds"]?.intValue { options.waitTimeout = .seconds(max(0, seconds)) }
        let report = try await ResourceRestore(client: client, repository: repository, resources: resources, options: options).run()
        let failures = report.objects.filter { $0.action == .failed }.map { JSONValue.string("\($0.reference): \($0.message ?? "failed")") }
        let skipped = report.objects.filter { $0.action == .skipped }.map { JSONValue.string($0.reference.description) }
        return [
            "phase": .string(failures.isEmpty ? "Completed" : "PartiallyFailed"), "snapshot": .string(snapshot.id.hex),
            "created": .int(Int64(report.count(.created))), "existing": .int(Int64(report.count(.existing))),
            "updated": .int(Int64(report.count(.updated))), "failed": .int(Int64(failures.count)),
            "skipped": skipped.isEmpty ? .null : .array(skipped), "errors": failures.isEmpty ? .null : .array(failures),
        ]
    }

    /// The Target and snapshot a Restore names: through `backup`, or `target` + `snapshot`.
    func source(_ restore: KubeObject, namespace: String) async throws(ClusterError) -> (target: String, snapshot: String) {
        if let backupName = restore.optionalString("backup") {
            let backup = try await FerryKind.backup.get(client, namespace: namespace, name: backupName, neededBy: restore.label)
            guard let snapshot = backup["status"]?["snapshot"]?.stringValue, !snapshot.isEmpty else {
                throw .invalidSpec(object: restore.label, field: "spec.backup",
                                   message: "Backup \(backupName) has no snapshot (phase \(backup["status"]?["phase"]?.stringValue ?? "none"))")
            }
            let planName = try backup.requiredString("plan")
            let plan = try BackupPlanSpec(try await FerryKind.backupPlan.get(client, namespace: namespace, name: planName, neededBy: restore.label))
            return (plan.target, snapshot)
        }
        guard let target = restore.optionalString("target"), let snapshot = restore.optionalString("snapshot") else {
            throw .invalidSpec(object: restore.label, field: "spec", message: "set backup, or target and snapshot")
        }
        return (target, snapshot)
    }
}
