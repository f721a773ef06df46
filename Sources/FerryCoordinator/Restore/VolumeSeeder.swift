import FerryAPI
import FerryApps
import FerryKube
import FerryRepo
import Foundation
import Synchronization

/// Restores the data of a Filesystem-mode CSI claim, which agents cannot write once it is
/// mounted: before the claim is created, the volume's block image goes into a temporary
/// Block-mode claim of the same class (attached by a pause pod, written by the agent there), that
/// claim is snapshotted, and the claim is created from the snapshot (its content allowed to
/// change volume mode, KEP-3141), so the driver provisions it holding the file system. The
/// temporary claim goes at once; the snapshot once the claim is bound (`finish`).
final class VolumeSeeder: Sendable {
    struct Seeded: Sendable {
        var namespace: String
        var claim: String
        var volume: String
        var snapshot: String
    }

    let job: RestoreJob
    let exposer: SnapshotExposer
    let owner: ExposureOwner
    let snapshotID: String
    /// The id of the repository the snapshot is in (the agents refuse any other).
    let repositoryID: String
    let target: String
    /// The snapshot's volumes by the claim they are restored into (`namespace/claim`).
    let volumes: [String: VolumeManifest]
    private let seeded = Mutex<[Seeded]>([])

    init(
        job: RestoreJob, exposer: SnapshotExposer, owner: ExposureOwner, snapshotID: String, repositoryID: String, target: String,
        volumes: [VolumeManifest],
        placement: VolumePlacement
    ) {
        self.job = job
        self.exposer = exposer
        self.owner = owner
        self.snapshotID = snapshotID
        self.repositoryID = repositoryID
        self.target = target
        var byClaim: [String: VolumeManifest] = [:]
        for volume in volumes where volume.name.contains("/") && !volume.source.hasSuffix("/disk.img") {
            byClaim["\(placement.namespace(of: volume.name))/\(volume.name.split(separator: "/").last!)"] = volume
        }
        self.volumes = byClaim
    }

    /// The volumes (`ns/claim` as in the snapshot) whose claims were created from seeded snapshots.
    var seededVolumes: [String] { seeded.withLock { $0.map(\.volume) } }

    /// The claim as it is to be created: with a data source holding its data when it is a new,
    /// dynamically provisioned Filesystem claim of a CSI class that can snapshot; unchanged
    /// otherwise (and every other object).
    func prepare(_ object: KubeObject) async throws -> KubeObject {
        guard object.groupKind == GroupKind(group: "", kind: "PersistentVolumeClaim"),
            let volume = volumes["\(object.namespace ?? "")/\(object.name)"],
            object["spec"]?["volumeMode"]?.stringValue != "Block", object["spec"]?["volumeName"]?.stringValue?.isEmpty ?? true,
            object["spec"]?["dataSource"] == nil && object["spec"]?["dataSourceRef"] == nil,
            let namespace = object.namespace, let storageClass = object["spec"]?["storageClassName"]?.stringValue
        else { return object }
        let client = job.client
        let claims = try await client.resource(apiVersion: "v1", kind: "PersistentVolumeClaim")
        do {
            _ = try await client.get(claims, namespace: namespace, name: object.name)
            return object
        } catch .notFound {
            // Absent: it is created here, holding the volume's data.
        } catch {
            throw ClusterError.kube(error)
        }
        guard let snapshotClass = try await snapshotClass(for: storageClass) else { return object }

        let index = seeded.withLock { $0.count }
        let name = "\(owner.prefix)-seed-\(index)"
        job.log(
            """
            \(job.restore.label): writing volume \(volume.name) \
            into a temporary claim \(namespace)/\(name) to create \(object.name) from its snapshot
            """
        )
        let size = object["spec"]?["resources"]?["requests"]?["storage"] ?? .string(String(volume.size))
        var temporary = KubeObject(apiVersion: "v1", kind: "PersistentVolumeClaim", namespace: namespace, name: name)
        temporary.json["spec"] = [
            "accessModes": ["ReadWriteOnce"], "volumeMode": "Block", "storageClassName": .string(storageClass),
            "resources": ["requests": ["storage": size]],
        ]
        temporary.json.setValue([FerryLabels.exposes: .string(owner.label)], at: ["metadata", "labels"])
        try await exposer.createIfAbsent(temporary)
        do {
            try await write(volume, into: name, namespace: namespace, index: index)
            var snapshot = KubeObject(apiVersion: "snapshot.storage.k8s.io/v1", kind: "VolumeSnapshot", namespace: namespace, name: name)
            snapshot.json["spec"] = [
                "volumeSnapshotClassName": .string(snapshotClass), "source": ["persistentVolumeClaimName": .string(name)],
            ]
            snapshot.json.setValue([FerryLabels.seeds: .string(owner.label)], at: ["metadata", "labels"])
            try await exposer.createIfAbsent(snapshot)
            try await exposer.allowVolumeModeChange(of: try await exposer.waitUntilReady(name, namespace: namespace))
        } catch {
            await exposer.cleanup(namespace: namespace, owner: owner)
            await deleteSnapshots(namespace: namespace, names: [name])
            throw ClusterError.volume(volume.name, reason: "\(error); the workloads were not created")
        }
        await exposer.cleanup(namespace: namespace, owner: owner)
        seeded.withLock { $0.append(Seeded(namespace: namespace, claim: object.name, volume: volume.name, snapshot: name)) }
        var claim = object
        claim.json.setValue(
            ["apiGroup": "snapshot.storage.k8s.io", "kind": "VolumeSnapshot", "name": .string(name)], at: ["spec", "dataSource"])
        return claim
    }

    /// Deletes each seeded snapshot once its claim is bound (the driver has provisioned the
    /// volume from it) or gone, waiting up to `timeout`; returns warnings for those left. A claim
    /// that cannot be read is not bound: its snapshot stays until a definite answer.
    func finish(timeout: Duration, poll: Duration) async -> [String] {
        var pending = seeded.withLock { $0 }
        var warnings: [String] = []
        var unreadable: [String: String] = [:]
        let deadline = ContinuousClock.now + timeout
        while !pending.isEmpty {
            var waiting: [Seeded] = []
            for item in pending {
                do {
                    let claims = try await job.client.resource(apiVersion: "v1", kind: "PersistentVolumeClaim")
                    let claim = try await job.client.get(claims, namespace: item.namespace, name: item.claim)
                    if claim["spec"]?["volumeName"]?.stringValue?.isEmpty ?? true {
                        waiting.append(item)
                        continue
                    }
                } catch .notFound {
                    // Deleted since: nothing will be provisioned from the snapshot any more.
                } catch {
                    unreadable["\(item.namespace)/\(item.claim)"] = "\(error)"
                    waiting.append(item)
                    continue
                }
                if let failure = await deleteSnapshots(namespace: item.namespace, names: [item.snapshot]) { warnings.append(failure) }
            }
            pending = waiting
            if pending.isEmpty || ContinuousClock.now >= deadline { break }
            try? await Task.sleep(for: poll)
        }
        return warnings
            + pending.map {
                let state = unreadable["\($0.namespace)/\($0.claim)"].map { "could not be read (\($0))" } ?? "is not bound yet"
                return
                    """
                    claim \($0.namespace)/\($0.claim) \(state): VolumeSnapshot \($0.snapshot), \
                    which it is provisioned from, is kept; delete it once the claim is bound
                    """
            }
    }

    /// Writes the volume into the attached temporary claim through the agent on its node.
    private func write(_ volume: VolumeManifest, into claim: String, namespace: String, index: Int) async throws {
        let (node, path) = try await exposer.attach(
            claim: claim, podName: claim, namespace: namespace, block: true, diskImage: false,
            writable: true, owner: owner)
        var unit = VolumeTransferSpec(
            direction: .restore, owner: job.restore.name, target: target, node: node, volume: volume.name,
            source: .init(path: path), snapshot: snapshotID)
        unit.attached = true
        let units = VolumeUnits(job.context)
        let finished = try await units.run([unit], for: job.restore, repository: repositoryID, suffix: "seed-\(index)-", notMoved: [])
        if let failed = finished.first(where: { $0.phase != .succeeded }) {
            throw ClusterError.transfer(failed.status.message ?? "writing the volume failed")
        }
    }

    /// The VolumeSnapshotClass for a StorageClass's CSI driver (its default one first).
    private func snapshotClass(for storageClass: String) async throws -> String? {
        let client = job.client
        do {
            let classes = try await client.resource(apiVersion: "storage.k8s.io/v1", kind: "StorageClass")
            guard let provisioner = try await client.get(classes, namespace: nil, name: storageClass)["provisioner"]?.stringValue,
                let snapshotClasses = try? await client.resource(apiVersion: "snapshot.storage.k8s.io/v1", kind: "VolumeSnapshotClass")
            else { return nil }
            return VolumeFacts.snapshotClass(forDriver: provisioner, among: try await client.listAll(snapshotClasses, namespace: nil))
        } catch .notFound {
            return nil
        } catch {
            throw ClusterError.kube(error)
        }
    }

    /// Deletes the snapshots; a warning naming those that could not be deleted (nil: all gone).
    @discardableResult
    private func deleteSnapshots(namespace: String, names: [String]) async -> String? {
        var failed: [String] = []
        for name in names {
            do {
                let snapshots = try await job.client.resource(apiVersion: "snapshot.storage.k8s.io/v1", kind: "VolumeSnapshot")
                _ = try await job.client.delete(snapshots, namespace: namespace, name: name)
            } catch .notFound {
            } catch {
                failed.append("\(name) (\(error))")
            }
        }
        guard !failed.isEmpty else { return nil }
        return "VolumeSnapshot \(failed.joined(separator: ", ")) in \(namespace) could not be deleted; delete it by hand"
    }
}
