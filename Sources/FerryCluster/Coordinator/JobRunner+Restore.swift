import FerryKube
import FerryRepo
import FerryResources
import Foundation
import Synchronization

/// Carries out one `Restore`: finds the snapshot (through a Backup, or a Target and snapshot id
/// when the Backup is gone with its namespace) and restores its objects into the Restore's own
/// namespace; cluster-scoped objects are left to an administrator (reported as skipped).
extension JobRunner {
    /// Runs the restore; every failure ends in the status (phase Failed with the reason).
    func restore(_ restore: KubeObject, attempt: String) async {
        await status.carryOut(.restore, restore, attempt: attempt, log: log) { try await performRestore(restore) }
    }

    func performRestore(_ restore: KubeObject) async throws -> JSONValue {
        let namespace = restore.namespace ?? ""
        let (targetName, snapshotText, ofClusterPlan) = try await source(restore, namespace: namespace)
        // A cluster-wide restore writes into the backed-up namespaces (mapped) and restores
        // cluster-scoped objects: only from the coordinator's own namespace.
        let clusterWide = ofClusterPlan || restore["spec"]?["clusterWide"]?.boolValue == true
        if clusterWide {
            guard let adminNamespace, namespace == adminNamespace else {
                throw ClusterError.invalidSpec(object: restore.label, field: "spec.clusterWide",
                                               message: "a cluster-wide Restore must be in namespace \(adminNamespace ?? "(none)"), where Ferry runs")
            }
        }
        var mapping: [String: String] = [:]
        for (from, to) in restore["spec"]?["namespaceMapping"]?.objectValue ?? [:] { if let to = to.stringValue { mapping[from] = to } }
        let placement = VolumePlacement(namespace: namespace, clusterWide: clusterWide, mapping: mapping)
        let owner = ExposureOwner(restore, clusterWide: clusterWide)
        let target = try TargetSpec(try await FerryKind.target.get(client, namespace: namespace, name: targetName, neededBy: restore.label))
        let repository = try await connector.open(target)
        let snapshot = try await repository.snapshot(matching: snapshotText)
        guard let resources = snapshot.manifest.resources else {
            throw ClusterError.invalidSpec(object: restore.label, field: "spec", message: "snapshot \(snapshot.id.short) holds no Kubernetes objects")
        }
        var options = ResourceRestore.Options()
        if clusterWide { options.namespaceMapping = mapping } else { options.confinedTo = namespace }
        if let policy = restore.optionalString("existingResources") {
            guard let existing = ExistingResourcePolicy(rawValue: policy) else {
                throw ClusterError.invalidSpec(object: restore.label, field: "spec.existingResources", message: "must be skip or update, not \(policy)")
            }
            options.existing = existing
        }
        if let seconds = restore["spec"]?["waitTimeoutSeconds"]?.intValue { options.waitTimeout = .seconds(max(0, seconds)) }
        let volumeOutcome = VolumeOutcome()
        let volumes = snapshot.manifest.volumes
        // New Filesystem claims are created from a snapshot holding their data; the other
        // claims exist after the storage phase and get their data before any workload starts.
        let seeder = volumes.isEmpty ? nil : exposer.map {
            VolumeSeeder(runner: self, exposer: $0, restore: restore, owner: owner, snapshotID: snapshot.id.hex, target: targetName, volumes: volumes,
                         placement: placement)
        }
        if let seeder { options.prepare = { try await seeder.prepare($0) } }
        if !volumes.isEmpty {
            options.afterPhase = { phase in
                guard phase == .storage else { return }
                let seeded = Set(seeder?.seededVolumes ?? [])
                let outcome = try await restoreVolumes(volumes.filter { !seeded.contains($0.name) }, snapshot: snapshot.id.hex, target: targetName,
                                                       restore: restore, owner: owner, placement: placement)
                volumeOutcome.value.withLock { $0 = outcome }
            }
        }
        let report = try await ResourceRestore(client: client, repository: repository, resources: resources, options: options).run()
        let seedWarnings = await seeder?.finish(timeout: options.waitTimeout, poll: timing.poll) ?? []
        var (restoredVolumes, notMoved) = volumeOutcome.value.withLock { $0 }
        restoredVolumes = (seeder?.seededVolumes ?? []) + restoredVolumes
        let failures = report.objects.filter { $0.action == .failed }.map { JSONValue.string("\($0.reference): \($0.message ?? "failed")") }
        let skipped = report.objects.filter { $0.action == .skipped }.map { JSONValue.string($0.reference.description) }
        let incomplete = !failures.isEmpty || !notMoved.isEmpty
        return [
            "phase": .string(incomplete ? "PartiallyFailed" : "Completed"), "snapshot": .string(snapshot.id.hex),
            "volumesRestored": .array(restoredVolumes.map(JSONValue.string)),
            "warnings": notMoved.isEmpty && seedWarnings.isEmpty ? .null
                : .array(notMoved.map { .string("volume \($0.claim) not restored: \($0.reason)") } + seedWarnings.map(JSONValue.string)),
            "created": .int(Int64(report.count(.created))), "existing": .int(Int64(report.count(.existing))),
            "updated": .int(Int64(report.count(.updated))), "failed": .int(Int64(failures.count)),
            "skipped": skipped.isEmpty ? .null : .array(skipped), "errors": failures.isEmpty ? .null : .array(failures),
        ]
    }

    /// Writes the snapshot's volumes back to the volumes their restored claims are bound to,
    /// through the agents on those volumes' nodes. A failed unit stops the restore before the
    /// workloads (they must not start on missing data).
    func restoreVolumes(_ volumes: [VolumeManifest], snapshot: String, target: String, restore: KubeObject, owner: ExposureOwner,
                        placement: VolumePlacement) async throws -> ([String], [VolumeUnits.NotMoved]) {
        var units: [VolumeTransferSpec] = []
        var attachedIn: Set<String> = []
        var notMoved: [VolumeUnits.NotMoved] = []
        let claims: APIResource
        let persistentVolumes: APIResource
        do {
            claims = try await client.resource(apiVersion: "v1", kind: "PersistentVolumeClaim")
            persistentVolumes = try await client.resource(apiVersion: "v1", kind: "PersistentVolume")
        } catch {
            throw ClusterError.kube(error)
        }
        for volume in volumes {
            let claimName = String(volume.name.split(separator: "/").last ?? "")
            let namespace = placement.namespace(of: volume.name)
            guard volume.name.contains("/"), !claimName.isEmpty else {
                notMoved.append(.init(claim: volume.name, reason: "not a claim's volume"))
                continue
            }
            guard let claim = try await find(claims, namespace: namespace, name: claimName) else {
                notMoved.append(.init(claim: volume.name, reason: "its claim \(namespace)/\(claimName) was not restored"))
                continue
            }
            let bound = claim["spec"]?["volumeName"]?.stringValue ?? ""
            let pv = bound.isEmpty ? nil : try await find(persistentVolumes, namespace: nil, name: bound).flatMap(PersistentVolumeView.init)
            let diskImage = volume.source.hasSuffix("/disk.img")
            if let pv, let base = pv.localPath ?? pv.hostPath {
                guard let node = pv.affinityHostnames.first else {
                    notMoved.append(.init(claim: volume.name, reason: "volume \(bound) is a host path volume not pinned to a node"))
                    continue
                }
                units.append(VolumeTransferSpec(direction: .restore, backup: restore.name, target: target, node: node, volume: volume.name,
                                                snapshotName: nil, path: base + (diskImage ? "/disk.img" : ""), snapshot: snapshot))
                continue
            }
            // A provisioned (CSI) claim, bound or waiting for its first consumer: attach it with a pause pod.
            let block = claim["spec"]?["volumeMode"]?.stringValue == "Block"
            guard let exposer else {
                notMoved.append(.init(claim: volume.name, reason: "a provisioned volume: the coordinator has no image for the pods that attach it (--exposer-image, FERRY_IMAGE)"))
                continue
            }
            guard block || diskImage else {
                notMoved.append(.init(claim: volume.name, reason: "a filesystem claim bound to an existing volume, or of a class without a VolumeSnapshotClass: the agent writes block devices and disk images, and a file system's data is restored only into a new claim created from a snapshot"))
                continue
            }
            do {
                attachedIn.insert(namespace)
                let (node, path) = try await exposer.attach(claim: claimName, podName: owner.name(units.count),
                                                            namespace: namespace, block: block, diskImage: diskImage, writable: true, owner: owner)
                var unit = VolumeTransferSpec(direction: .restore, backup: restore.name, target: target, node: node, volume: volume.name,
                                              snapshotName: nil, path: path, snapshot: snapshot)
                unit.attached = true
                units.append(unit)
            } catch {
                for namespace in attachedIn.sorted() { await exposer.cleanup(namespace: namespace, owner: owner) }
                throw ClusterError.repository("volume \(volume.name): \(error); the workloads were not created")
            }
        }
        guard !units.isEmpty else { return ([], notMoved) }
        let follower = VolumeUnits(client: client, status: status, timing: timing, log: log)
        let finished: [KubeObject]
        do {
            finished = try await follower.follow(try await follower.create(units, for: restore, kind: .restore), of: restore, kind: .restore, notMoved: notMoved)
        } catch {
            for namespace in attachedIn.sorted() { await exposer?.cleanup(namespace: namespace, owner: owner) }
            throw error
        }
        for namespace in attachedIn.sorted() { await exposer?.cleanup(namespace: namespace, owner: owner) }
        let failed = finished.filter { $0["status"]?["phase"]?.stringValue != "Succeeded" }
        guard failed.isEmpty else {
            throw ClusterError.repository("volume data not restored, so the workloads were not created: " + failed.map {
                "\($0["spec"]?["volume"]?.stringValue ?? $0.name): \($0["status"]?["message"]?.stringValue ?? "failed")"
            }.joined(separator: "; "))
        }
        return (finished.compactMap { $0["spec"]?["volume"]?.stringValue }, notMoved)
    }

    /// One object, or nil when it does not exist.
    func find(_ resource: APIResource, namespace: String?, name: String) async throws(ClusterError) -> KubeObject? {
        do {
            return try await client.get(resource, namespace: namespace, name: name)
        } catch {
            if case .notFound = error { return nil }
            throw .kube(error)
        }
    }

    /// The Target and snapshot a Restore names: through `backup`, or `target` + `snapshot`.
    func source(_ restore: KubeObject, namespace: String) async throws(ClusterError) -> (target: String, snapshot: String, ofClusterPlan: Bool) {
        if let backupName = restore.optionalString("backup") {
            let backup = try await FerryKind.backup.get(client, namespace: namespace, name: backupName, neededBy: restore.label)
            guard let snapshot = backup["status"]?["snapshot"]?.stringValue, !snapshot.isEmpty else {
                throw .invalidSpec(object: restore.label, field: "spec.backup",
                                   message: "Backup \(backupName) has no snapshot (phase \(backup["status"]?["phase"]?.stringValue ?? "none"))")
            }
            if let clusterPlan = backup.optionalString("clusterPlan") {
                let plan = try BackupPlanSpec(try await FerryKind.clusterBackupPlan.get(client, namespace: "", name: clusterPlan, neededBy: restore.label))
                return (plan.target, snapshot, true)
            }
            let planName = try backup.requiredString("plan")
            let plan = try BackupPlanSpec(try await FerryKind.backupPlan.get(client, namespace: namespace, name: planName, neededBy: restore.label))
            return (plan.target, snapshot, false)
        }
        guard let target = restore.optionalString("target"), let snapshot = restore.optionalString("snapshot") else {
            throw .invalidSpec(object: restore.label, field: "spec", message: "set backup, or target and snapshot")
        }
        return (target, snapshot, false)
    }
}

/// Where a restore puts a snapshot volume's claim (`ns/claim` in the snapshot): the Restore's own
/// namespace, or for a cluster-wide restore the backed-up namespace (mapped).
struct VolumePlacement: Sendable {
    var namespace: String
    var clusterWide: Bool
    var mapping: [String: String]

    func namespace(of volume: String) -> String {
        guard clusterWide, let original = volume.split(separator: "/").first.map(String.init) else { return namespace }
        return mapping[original] ?? original
    }
}

/// What the volume phase of a restore did, handed out of the phase callback.
final class VolumeOutcome: Sendable {
    let value = Mutex<(restored: [String], notMoved: [VolumeUnits.NotMoved])>(([], []))
}
