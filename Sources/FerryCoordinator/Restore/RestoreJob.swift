import FerryAPI
import FerryKube
import FerryRepo
import FerryResources
import Foundation
import Synchronization

/// Carries out one `Restore`: finds the snapshot (through a Backup, or a Target and snapshot id
/// when the Backup is gone with its namespace) and restores its objects into the Restore's own
/// namespace (or, cluster-wide, into the backed-up namespaces); the volumes' data is written by
/// the agents after the storage phase and before any workload starts.
struct RestoreJob: Sendable {
    let context: JobContext
    let restore: Restore

    var client: KubeClient { context.client }
    var log: @Sendable (String) -> Void { context.log }

    /// Runs the restore; every failure ends in the status (phase Failed with the reason).
    func run(attempt: String) async {
        await context.carryOut(restore, timeoutText: restore.spec.timeout, attempt: attempt) { try await perform() }
    }

    func perform() async throws -> RestoreStatus {
        let namespace = restore.namespace ?? ""
        let (targetName, snapshotText, ofClusterPlan) = try await source(namespace: namespace)
        // A cluster-wide restore writes into the backed-up namespaces (mapped) and restores
        // cluster-scoped objects: only from the coordinator's own namespace.
        let clusterWide = ofClusterPlan || restore.spec.clusterWide == true
        if clusterWide {
            guard let adminNamespace = context.adminNamespace, namespace == adminNamespace else {
                throw ClusterError.invalidSpec(
                    object: restore.label, field: "spec.clusterWide",
                    message: "a cluster-wide Restore must be in namespace \(context.adminNamespace ?? "(none)"), where Ferry runs")
            }
        }
        let mapping = restore.spec.namespaceMapping ?? [:]
        let placement = VolumePlacement(namespace: namespace, clusterWide: clusterWide, mapping: mapping)
        let owner = ExposureOwner(restore.object, clusterWide: clusterWide)
        let target = try await context.ferry.get(Target.self, namespace: namespace, name: targetName, neededBy: restore.label)
        let repository = try await context.connector.open(target)
        let snapshot = try await repository.snapshot(matching: snapshotText)
        guard let resources = snapshot.manifest.resources else {
            throw ClusterError.invalidSpec(
                object: restore.label, field: "spec", message: "snapshot \(snapshot.id.short) holds no Kubernetes objects")
        }
        var options = ResourceRestore.Options()
        if clusterWide { options.namespaceMapping = mapping } else { options.confinedTo = namespace }
        if let policy = restore.spec.existingResources {
            options.existing = policy == .update ? .update : .skip
        }
        if let seconds = restore.spec.waitTimeoutSeconds { options.waitTimeout = .seconds(max(0, seconds)) }
        options.include = restore.spec.include
        options.exclude = restore.spec.exclude
        options.transforms = restore.spec.transforms
        let volumeOutcome = VolumeOutcome()
        let volumes = snapshot.manifest.volumes
        // New Filesystem claims are created from a snapshot holding their data; the other
        // claims exist after the storage phase and get their data before any workload starts.
        let seeder =
            volumes.isEmpty
            ? nil
            : context.exposer.map {
                VolumeSeeder(
                    job: self, exposer: $0, owner: owner, snapshotID: snapshot.id.hex, repositoryID: repository.config.id,
                    target: targetName, volumes: volumes, placement: placement)
            }
        if let seeder { options.prepare = { try await seeder.prepare($0) } }
        if !volumes.isEmpty {
            options.afterPhase = { phase, report in
                guard phase == .storage else { return }
                let seeded = Set(seeder?.seededVolumes ?? [])
                // A volume's data follows its claim: none for a claim the selection left out.
                let excluded = Set(
                    report.excluded.filter { $0.kind == "PersistentVolumeClaim" && $0.group.isEmpty }
                        .map { "\($0.namespace ?? "")/\($0.name)" })
                // Only claims this Restore created get data; the others were there before.
                let created = Set(
                    report.objects.filter {
                        $0.action == .created && $0.reference.kind == "PersistentVolumeClaim" && $0.reference.group.isEmpty
                    }
                    .map { "\($0.reference.namespace ?? "")/\($0.reference.name)" })
                let outcome = try await restoreVolumes(
                    volumes.filter { !seeded.contains($0.name) && !excluded.contains($0.name) }, snapshot: snapshot.id.hex,
                    repositoryID: repository.config.id,
                    target: targetName,
                    owner: owner, placement: placement, created: created)
                volumeOutcome.value.withLock { $0 = outcome }
            }
        }
        let report = try await ResourceRestore(client: client, repository: repository, resources: resources, options: options).run()
        let seedWarnings = await seeder?.finish(timeout: options.waitTimeout, poll: context.timing.poll) ?? []
        var (restoredVolumes, notMoved, leftAlone) = volumeOutcome.value.withLock { $0 }
        restoredVolumes = (seeder?.seededVolumes ?? []) + restoredVolumes
        var failures = report.objects.filter { $0.action == .failed }.map { "\($0.reference): \($0.message ?? "failed")" }
        let skipped = report.objects.filter { $0.action == .skipped }.map(\.reference.description)
        var warnings = notMoved.map { "volume \($0.claim) not restored: \($0.reason)" } + seedWarnings
        // Post-restore hooks, once the workloads are restored and the pods they select Ready.
        if let hooks = restore.spec.hooks?.postRestore, !hooks.isEmpty {
            let namespaces =
                clusterWide
                ? Set(report.objects.compactMap { $0.action == .failed ? nil : $0.reference.namespace }).sorted() : [namespace]
            var runner = HookRunner(client: client, log: log)
            runner.components = ComponentPods(
                members: report.objects.compactMap { restored in restored.object.map { .init(object: $0, components: restored.components) }
                })
            let outcome = await PostRestoreHooks(runner: runner, poll: context.timing.poll).run(
                hooks, namespaces: namespaces, owner: restore.label)
            let results = outcome.results
            _ = try? await context.status.update(restore) { $0.hooks = results }
            warnings += outcome.warnings
            if let failure = outcome.failure { failures.append(failure) }
        }
        var status = RestoreStatus()
        status.phase = !failures.isEmpty || !notMoved.isEmpty ? .partiallyFailed : .completed
        status.snapshot = snapshot.id.hex
        status.volumesRestored = restoredVolumes
        status.volumesSkipped = leftAlone.isEmpty ? nil : leftAlone
        status.warnings = warnings.isEmpty ? nil : warnings
        status.created = report.count(.created)
        status.existing = report.count(.existing)
        status.updated = report.count(.updated)
        status.failed = failures.count
        status.skipped = skipped.isEmpty ? nil : skipped
        status.excluded = report.excluded.isEmpty ? nil : report.excluded.count
        status.errors = failures.isEmpty ? nil : failures
        return status
    }

    /// Writes the snapshot's volumes back to the volumes their restored claims are bound to,
    /// through the agents on those volumes' nodes. A failed unit stops the restore before the
    /// workloads (they must not start on missing data).
    ///
    /// Only claims the Restore created are written. A claim that existed before keeps its data
    /// (reported in `volumesSkipped`), unless `existingVolumes: Overwrite` asks otherwise and
    /// nothing uses it: no pod, no running VirtualMachineInstance (and the agent refuses an image
    /// a QEMU has open).
    func restoreVolumes(
        _ volumes: [VolumeManifest], snapshot: String, repositoryID: String, target: String, owner: ExposureOwner,
        placement: VolumePlacement, created: Set<String>
    ) async throws -> ([String], [VolumeUnits.NotMoved], [String]) {
        var units: [VolumeTransferSpec] = []
        var attachedIn: Set<String> = []
        var notMoved: [VolumeUnits.NotMoved] = []
        var leftAlone: [String] = []
        let claims = try await context.resource("v1", "PersistentVolumeClaim")
        let persistentVolumes = try await context.resource("v1", "PersistentVolume")
        let exposer = context.exposer
        for volume in volumes {
            let claimName = String(volume.name.split(separator: "/").last ?? "")
            let namespace = placement.namespace(of: volume.name)
            guard volume.name.contains("/"), !claimName.isEmpty else {
                notMoved.append(.init(claim: volume.name, reason: "not a claim's volume"))
                continue
            }
            guard let claim = try await context.find(claims, namespace: namespace, name: claimName) else {
                notMoved.append(.init(claim: volume.name, reason: "its claim \(namespace)/\(claimName) was not restored"))
                continue
            }
            if !created.contains("\(namespace)/\(claimName)") {
                guard restore.spec.existingVolumes == .overwrite else {
                    leftAlone.append(
                        "\(volume.name): claim \(namespace)/\(claimName) existed before this Restore and keeps its data "
                            + "(spec.existingVolumes: Overwrite writes over it when nothing uses it)")
                    continue
                }
                if let user = try await user(of: claimName, in: namespace) {
                    leftAlone.append("\(volume.name): claim \(namespace)/\(claimName) is in use by \(user); it keeps its data")
                    continue
                }
            }
            let bound = claim["spec"]?["volumeName"]?.stringValue ?? ""
            let pv =
                bound.isEmpty
                ? nil : try await context.find(persistentVolumes, namespace: nil, name: bound).flatMap(PersistentVolumeView.init)
            // Never a volume reserved for another claim (the binder would not bind it; its data is someone else's).
            if let reserved = pv?.reservedFor, reserved != "\(namespace)/\(claimName)" {
                leftAlone.append(
                    "\(volume.name): claim \(namespace)/\(claimName) names volume \(bound), which is bound to claim \(reserved); "
                        + "that volume is not written")
                continue
            }
            let diskImage = volume.source.hasSuffix("/disk.img")
            if let pv, let base = pv.localPath ?? pv.hostPath {
                guard let node = pv.affinityHostnames.first else {
                    notMoved.append(.init(claim: volume.name, reason: "volume \(bound) is a host path volume not pinned to a node"))
                    continue
                }
                units.append(
                    VolumeTransferSpec(
                        direction: .restore, owner: restore.name, target: target, node: node, volume: volume.name,
                        source: .init(path: base + (diskImage ? "/disk.img" : "")), snapshot: snapshot))
                continue
            }
            // A provisioned (CSI) claim, bound or waiting for its first consumer: attach it with a pause pod.
            let block = claim["spec"]?["volumeMode"]?.stringValue == "Block"
            guard let exposer else {
                notMoved.append(
                    .init(
                        claim: volume.name,
                        reason:
                            "a provisioned volume: the coordinator has no image for the pods that attach it (--exposer-image, FERRY_IMAGE)")
                )
                continue
            }
            guard block || diskImage else {
                notMoved.append(
                    .init(
                        claim: volume.name,
                        reason:
                            """
                            a filesystem claim bound to an existing volume, \
                            or of a class without a VolumeSnapshotClass: the agent writes block devices and disk images, \
                            and a file system's data is restored only into a new claim created from a snapshot
                            """
                    ))
                continue
            }
            do {
                attachedIn.insert(namespace)
                let (node, path) = try await exposer.attach(
                    claim: claimName, podName: owner.name(units.count),
                    namespace: namespace, block: block, diskImage: diskImage, writable: true, owner: owner)
                var unit = VolumeTransferSpec(
                    direction: .restore, owner: restore.name, target: target, node: node, volume: volume.name,
                    source: .init(path: path), snapshot: snapshot)
                unit.attached = true
                units.append(unit)
            } catch {
                for namespace in attachedIn.sorted() { await exposer.cleanup(namespace: namespace, owner: owner) }
                throw ClusterError.volume(volume.name, reason: "\(error); the workloads were not created")
            }
        }
        guard !units.isEmpty else { return ([], notMoved, leftAlone) }
        let follower = VolumeUnits(context)
        let finished: [VolumeTransfer]
        do {
            finished = try await follower.run(units, for: restore, repository: repositoryID, notMoved: notMoved)
        } catch {
            for namespace in attachedIn.sorted() { await exposer?.cleanup(namespace: namespace, owner: owner) }
            throw error
        }
        for namespace in attachedIn.sorted() { await exposer?.cleanup(namespace: namespace, owner: owner) }
        let failed = finished.filter { $0.phase != .succeeded }
        guard failed.isEmpty else {
            throw ClusterError.transfer(
                "volume data not restored, so the workloads were not created: "
                    + failed.map {
                        "\($0.spec.volume): \($0.status.message ?? "failed")"
                    }.joined(separator: "; "))
        }
        return (finished.map(\.spec.volume), notMoved, leftAlone)
    }

    /// What uses a claim now: a pod that has not ended, or a running VirtualMachineInstance (its
    /// claims and DataVolumes); nil when nothing does.
    func user(of claim: String, in namespace: String) async throws(ClusterError) -> String? {
        let pods = try await context.resource("v1", "Pod")
        do {
            for pod in try await client.listAll(pods, namespace: namespace)
            where !["Succeeded", "Failed"].contains(pod["status"]?["phase"]?.stringValue ?? "") {
                let volumes = pod["spec"]?["volumes"]?.arrayValue ?? []
                if volumes.contains(where: { $0["persistentVolumeClaim"]?["claimName"]?.stringValue == claim }) {
                    return "pod \(namespace)/\(pod.name)"
                }
            }
        } catch {
            throw .kube(error)
        }
        guard let instances = try? await client.resource(apiVersion: "kubevirt.io/v1", kind: "VirtualMachineInstance") else { return nil }
        do {
            for vmi in try await client.listAll(instances, namespace: namespace)
            where vmi["status"]?["phase"]?.stringValue != "Succeeded"
                && vmi["status"]?["phase"]?.stringValue != "Failed"
            {
                let volumes = vmi["spec"]?["volumes"]?.arrayValue ?? []
                if volumes.contains(where: {
                    $0["persistentVolumeClaim"]?["claimName"]?.stringValue == claim || $0["dataVolume"]?["name"]?.stringValue == claim
                }) {
                    return "VirtualMachineInstance \(namespace)/\(vmi.name)"
                }
            }
        } catch {
            throw .kube(error)
        }
        return nil
    }

    /// The Target and snapshot a Restore names: through `backup`, or `target` + `snapshot`.
    func source(namespace: String) async throws(ClusterError) -> (target: String, snapshot: String, ofClusterPlan: Bool) {
        if let backupName = restore.spec.backup, !backupName.isEmpty {
            let backup = try await context.ferry.get(Backup.self, namespace: namespace, name: backupName, neededBy: restore.label)
            guard let snapshot = backup.status.snapshot, !snapshot.isEmpty else {
                throw .invalidSpec(
                    object: restore.label, field: "spec.backup",
                    message: "Backup \(backupName) has no snapshot (phase \(backup.status.phase?.rawValue ?? "none"))")
            }
            if let clusterPlan = backup.spec.clusterPlan, !clusterPlan.isEmpty {
                let plan = try await context.ferry.get(ClusterBackupPlan.self, namespace: nil, name: clusterPlan, neededBy: restore.label)
                return (plan.spec.target, snapshot, true)
            }
            guard let planName = backup.spec.plan, !planName.isEmpty else {
                throw .invalidSpec(object: backup.label, field: "spec.plan", message: "required")
            }
            let plan = try await context.ferry.get(BackupPlan.self, namespace: namespace, name: planName, neededBy: restore.label)
            return (plan.spec.target, snapshot, false)
        }
        guard let target = restore.spec.target, !target.isEmpty, let snapshot = restore.spec.snapshot, !snapshot.isEmpty else {
            throw .invalidSpec(object: restore.label, field: "spec", message: "set backup, or target and snapshot")
        }
        return (target, snapshot, false)
    }
}

/// What the volume phase of a restore did, handed out of the phase callback.
final class VolumeOutcome: Sendable {
    let value = Mutex<(restored: [String], notMoved: [VolumeUnits.NotMoved], leftAlone: [String])>(([], [], []))
}
