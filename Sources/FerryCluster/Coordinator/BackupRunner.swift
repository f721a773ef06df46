import FerryApps
import FerryKube
import FerryRepo
import FerryResources
import Foundation

/// Carries out one `Backup`: reads its plan and target, discovers the application within the
/// plan's namespace, captures its objects into the target's repository, applies the plan's
/// retention, and records the outcome in the Backup's status.
struct BackupRunner: Sendable {
    let client: KubeClient
    let connector: TargetConnector
    let status: StatusWriter
    let log: @Sendable (String) -> Void

    /// Runs the backup; every failure ends in the status (phase Failed with the reason).
    func run(_ backup: KubeObject, attempt: String) async {
        let started = StatusWriter.now()
        do {
            try await status.patch(.backup, backup, ["phase": "InProgress", "attempt": .string(attempt), "startTime": started,
                                                     "errors": .null, "warnings": .null])
            let outcome = try await perform(backup)
            try await status.patch(.backup, backup, outcome.merging(["completionTime": StatusWriter.now()]))
            log("\(backup.label): \(outcome["phase"]?.stringValue ?? "")")
        } catch {
            log("\(backup.label) failed: \(error)")
            try? await status.patch(.backup, backup, ["phase": "Failed", "errors": [.string("\(error)")], "completionTime": StatusWriter.now()])
        }
    }

    func perform(_ backup: KubeObject) async throws -> JSONValue {
        let namespace = backup.namespace ?? ""
        let planName = try backup.requiredString("plan")
        let plan = try BackupPlanSpec(try await FerryKind.backupPlan.get(client, namespace: namespace, name: planName, neededBy: backup.label))
        let target = try TargetSpec(try await FerryKind.target.get(client, namespace: namespace, name: plan.target, neededBy: "BackupPlan \(namespace)/\(planName)"))
        let repository = try await connector.open(target)

        let result: DiscoveryResult
        do {
            result = try await ApplicationDiscovery(api: client).discover(plan.selectors, scope: .namespace(namespace))
        } catch {
            throw ClusterError.kube(error)
        }
        guard !result.components.isEmpty else {
            throw ClusterError.invalidSpec(object: "BackupPlan \(namespace)/\(planName)", field: "spec.components",
                                           message: "\(result.application) found nothing in namespace \(namespace)")
        }
        let session = try await repository.beginSession()
        let snapshot: ChunkID
        let stored: Int64
        let resources: ResourceManifest
        do {
            resources = try await ResourceCapture.store(result, in: session)
            let manifest = SnapshotManifest(
                time: Date(), name: plan.snapshotName, hostname: ProcessInfo.processInfo.hostName, parent: nil, session: session.id, volumes: [],
                resources: resources, tags: ["backup": backup.name, "plan": planName, "namespace": namespace])
            (snapshot, stored) = try await session.commit(manifest)
        } catch {
            await session.end()
            throw error
        }
        var warnings = result.issues.map { JSONValue.string($0.description) }
        if let retention = plan.retention {
            let removed = try await applyRetention(retention, name: plan.snapshotName, repository: repository)
            if removed > 0 { log("\(backup.label): retention removed \(removed) older snapshot(s) of \(plan.snapshotName)") }
        }
        let incomplete = result.issues.contains { [.forbidden, .failed, .malformed].contains($0.kind) }
        let volumes = result.volumes.map { volume -> JSONValue in
            ["claim": .string(volume.claim.description), "phase": "NotMoved",
             "message": "the node agent that moves volume data is not part of this version"]
        }
        if !volumes.isEmpty { warnings.append(.string("the data of \(volumes.count) volume(s) was not moved")) }
        try? await status.patch(.backupPlan, try await FerryKind.backupPlan.get(client, namespace: namespace, name: planName, neededBy: backup.label),
                                ["lastBackup": .string(backup.name), "lastBackupTime": StatusWriter.now()])
        return [
            "phase": .string(incomplete ? "PartiallyFailed" : "Completed"), "snapshot": .string(snapshot.hex),
            "resources": .int(Int64(resources.count)), "bytesStored": .int(stored), "volumes": .array(volumes),
            "warnings": warnings.isEmpty ? .null : .array(warnings),
        ]
    }

    /// Forgets the plan's snapshots the policy does not keep (prune reclaims their space).
    func applyRetention(_ policy: RetentionPolicy, name: String, repository: Repository) async throws -> Int {
        let snapshots = try await repository.snapshots().snapshots.filter { $0.manifest.name == name }
        let removals = policy.apply(to: snapshots, calendar: Calendar(identifier: .gregorian)).filter { !$0.keep }.map { ObjectName.snapshot($0.snapshot.id) }
        if !removals.isEmpty { try await repository.store.delete(removals) }
        return removals.count
    }
}

extension JSONValue {
    /// This object with `other`'s members added (replacing same-named ones).
    func merging(_ other: JSONValue) -> JSONValue {
        guard case .object(var members) = self, case .object(let extra) = other else { return self }
        for (key, value) in extra { members[key] = value }
        return .object(members)
    }
}
