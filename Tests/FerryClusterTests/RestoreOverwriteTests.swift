import FerryKube
import FerryKubeControllers
import FerryKubeTestServer
import FerryKubeTestSupport
import FerryTestSupport
import Foundation
import Testing

/// A Restore writes volume data only into claims it created: a claim that was there before keeps
/// its data unless the Restore asks to overwrite it, and even then not while a pod or a running
/// VM uses it.
@Suite(.serialized, .timeLimit(.minutes(10))) struct RestoreOverwriteTests {
    /// db/data on node-1, backed up (holding `backedUp`); then the device holds `live`.
    func backedUpVolume(_ setup: CoordinatorTests.Setup, cluster: KubeTestCluster) async throws -> (
        device: String, backedUp: Data, live: Data
    ) {
        let tests = AgentTests()
        let device = "\(cluster.directory)/pv-data.img"
        let backedUp = try tests.writeDevice(device, seed: 808)
        try await tests.install(setup, device: device)
        let backup = try await setup.backup("db-1", plan: "db", namespace: "db")
        #expect(backup["status"]?["phase"] == "Completed", "\(backup.json.serializedString())")
        var random = DeterministicBytes(seed: 809)
        let live = Data(random.bytes(8 << 20))
        try live.write(to: URL(fileURLWithPath: device))
        return (device, backedUp, live)
    }

    func restore(_ setup: CoordinatorTests.Setup, name: String, existingVolumes: String? = nil) async throws -> KubeObject {
        let extra = existingVolumes.map { ", existingVolumes: \($0)" } ?? ""
        try await setup.cluster.server.load(
            yaml: "apiVersion: ferry.dev/v1alpha1\nkind: Restore\nmetadata: {name: \(name), namespace: db}\nspec: {backup: db-1\(extra)}")
        return try await setup.finished("Restore", namespace: "db", name: name)
    }

    func processes(_ setup: CoordinatorTests.Setup) throws -> [ChildProcess] {
        [try setup.coordinator(identity: "coordinator", ["--unit-lease", "30"]), try AgentTests().agent(setup, identity: "agent-1")]
    }

    @Test func anExistingClaimKeepsItsDataUnlessTheRestoreAsksToOverwriteIt() async throws {
        try await withKubeTestCluster { cluster in
            let setup = try await CoordinatorTests.Setup.make(cluster)
            let running = try processes(setup)
            defer { running.forEach { $0.kill() } }
            let (device, backedUp, live) = try await backedUpVolume(setup, cluster: cluster)

            // The claim and the pod that uses it are still there: the default leaves the data.
            let kept = try await restore(setup, name: "again")
            #expect(kept["status"]?["phase"] == "Completed", "\(kept.json.serializedString())")
            #expect(kept["status"]?["volumesRestored"] == [], "\(kept.json.serializedString())")
            let skipped = kept["status"]?["volumesSkipped"]?[0]?.stringValue ?? ""
            #expect(skipped.contains("claim db/data existed before this Restore"), "\(skipped)")
            #expect(try Data(contentsOf: URL(fileURLWithPath: device)) == live, "the live volume was not written")

            // Asked to overwrite, but the pod still uses the claim.
            let inUse = try await restore(setup, name: "over-used", existingVolumes: "Overwrite")
            #expect(
                inUse["status"]?["volumesSkipped"]?[0]?.stringValue?.contains("is in use by pod db/db-0") == true,
                "\(inUse.json.serializedString())")
            #expect(try Data(contentsOf: URL(fileURLWithPath: device)) == live)

            // A running VM uses it.
            await cluster.server.delete(apiVersion: "v1", kind: "Pod", namespace: "db", name: "db-0")
            try await cluster.load("crds/kubevirt.yaml")
            try await cluster.server.load(
                yaml: """
                    apiVersion: kubevirt.io/v1
                    kind: VirtualMachineInstance
                    metadata: {name: vm1, namespace: db}
                    spec:
                      domain: {devices: {disks: [{name: data, disk: {bus: virtio}}]}}
                      volumes: [{name: data, persistentVolumeClaim: {claimName: data}}]
                    status: {phase: Running}
                    """)
            let vmUses = try await restore(setup, name: "over-vm", existingVolumes: "Overwrite")
            #expect(
                vmUses["status"]?["volumesSkipped"]?[0]?.stringValue?.contains("VirtualMachineInstance db/vm1") == true,
                "\(vmUses.json.serializedString())")
            #expect(try Data(contentsOf: URL(fileURLWithPath: device)) == live)

            // Nothing uses it any more (the last Restore brought the pod back from the backup, as
            // it should): the explicit overwrite writes the backup over it.
            await cluster.server.delete(apiVersion: "kubevirt.io/v1", kind: "VirtualMachineInstance", namespace: "db", name: "vm1")
            await cluster.server.delete(apiVersion: "v1", kind: "Pod", namespace: "db", name: "db-0")
            let written = try await restore(setup, name: "over", existingVolumes: "Overwrite")
            #expect(
                written["status"]?["phase"] == "Completed" && written["status"]?["volumesRestored"] == ["db/data"],
                "\(written.json.serializedString())")
            #expect(try Data(contentsOf: URL(fileURLWithPath: device)) == backedUp)
        }
    }

    /// A restore into another namespace while the original runs (what scripts/e2e.sh does): the
    /// restored claim must not be bound to the original's volume (whose claimRef names the
    /// original claim, as a cluster's volume binder would refuse it), so that volume is never
    /// written; the data goes to a volume provisioned for the restored claim (the cluster's
    /// controllers played by FerryKubeControllers: a loop device on node-1).
    @Test func aRestoreIntoAnotherNamespaceNeverBindsOrWritesTheOriginalsVolume() async throws {
        try TestEnvironment.requireRoot("loop devices")
        try TestEnvironment.requireTool("losetup")
        try await withKubeTestCluster { cluster in
            let setup = try await CoordinatorTests.Setup.make(cluster)
            let kubeletRoot = "\(cluster.directory)/kubelet"
            let running = [
                try setup.coordinator(identity: "coordinator", ["--unit-lease", "30", "--kubelet-root", kubeletRoot]),
                try AgentTests().agent(setup, identity: "agent-1"),
            ]
            defer { running.forEach { $0.kill() } }
            let controllers = ClusterControllers(
                client: cluster.client,
                options: .init(nodes: ["node-1"], volumesDirectory: "\(cluster.directory)/volumes", kubeletRoot: kubeletRoot)
            ) { print("controllers: \($0)") }
            let playing = Task { try await controllers.run() }
            defer { playing.cancel() }
            let (device, backedUp, live) = try await backedUpVolume(setup, cluster: cluster)
            // The class provisions volumes (a loop device each) when a pod first uses a claim.
            await cluster.server.delete(apiVersion: "storage.k8s.io/v1", kind: "StorageClass", namespace: nil, name: "local-block")
            try await cluster.server.load(
                yaml: """
                    apiVersion: storage.k8s.io/v1
                    kind: StorageClass
                    metadata: {name: local-block}
                    provisioner: \(ClusterControllers.Options(nodes: [], volumesDirectory: "", kubeletRoot: "").provisioner)
                    volumeBindingMode: WaitForFirstConsumer
                    """)
            let backup = try #require(
                await cluster.server.object(apiVersion: "ferry.dev/v1alpha1", kind: "Backup", namespace: "db", name: "db-1"))
            let snapshot = try #require(backup["status"]?["snapshot"]?.stringValue)
            try await cluster.server.load(yaml: "apiVersion: v1\nkind: Namespace\nmetadata: {name: db-copy}")
            try await setup.target(in: "db-copy")
            try await cluster.server.load(
                yaml: """
                    apiVersion: ferry.dev/v1alpha1
                    kind: Restore
                    metadata: {name: copy, namespace: db-copy}
                    spec: {target: local, snapshot: "\(snapshot)"}
                    """)
            let restore = try await setup.finished("Restore", namespace: "db-copy", name: "copy")
            await controllers.detachVolumes()
            #expect(try Data(contentsOf: URL(fileURLWithPath: device)) == live, "the original's live volume was written")
            #expect(restore["status"]?["phase"] == "Completed", "\(restore.json.serializedString())")
            #expect(restore["status"]?["volumesRestored"] == ["db/data"], "\(restore.json.serializedString())")
            let claim = try #require(
                await cluster.server.object(apiVersion: "v1", kind: "PersistentVolumeClaim", namespace: "db-copy", name: "data"))
            let bound = try #require(claim["spec"]?["volumeName"]?.stringValue)
            #expect(bound != "pv-data", "\(claim.json.serializedString())")
            let provisioned = "\(cluster.directory)/volumes/\(bound).img"
            #expect(try AgentTests().contents(provisioned) == backedUp, "the restored claim's own volume holds the backup")

            // A claim there that names the original's volume (made by hand), nothing using it,
            // overwrite asked for: the volume is reserved for db/data, so it is still not written.
            playing.cancel()
            await cluster.server.delete(apiVersion: "v1", kind: "Pod", namespace: "db-copy", name: "db-0")
            await cluster.server.delete(apiVersion: "v1", kind: "PersistentVolumeClaim", namespace: "db-copy", name: "data")
            try await cluster.server.load(
                yaml: """
                    apiVersion: v1
                    kind: PersistentVolumeClaim
                    metadata: {name: data, namespace: db-copy}
                    spec: {volumeMode: Block, accessModes: [ReadWriteOnce], storageClassName: local-block, volumeName: pv-data,
                           resources: {requests: {storage: 8Mi}}}
                    ---
                    apiVersion: ferry.dev/v1alpha1
                    kind: Restore
                    metadata: {name: over, namespace: db-copy}
                    spec: {target: local, snapshot: "\(snapshot)", existingVolumes: Overwrite}
                    """)
            let over = try await setup.finished("Restore", namespace: "db-copy", name: "over")
            let skipped = over["status"]?["volumesSkipped"]?[0]?.stringValue ?? ""
            #expect(skipped.contains("names volume pv-data, which is bound to claim db/data"), "\(over.json.serializedString())")
            #expect(try Data(contentsOf: URL(fileURLWithPath: device)) == live, "the original's live volume was written")
        }
    }
}
