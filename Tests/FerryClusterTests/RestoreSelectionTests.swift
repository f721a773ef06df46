import FerryKube
import FerryKubeTestServer
import FerryKubeTestSupport
import FerryTestSupport
import Foundation
import Testing

/// A Restore of part of a Backup: volume data follows the claims it selects, and its transforms
/// are applied (or, when one does not apply, nothing is restored).
@Suite(.serialized, .timeLimit(.minutes(10))) struct RestoreSelectionTests {
    /// A second claim, db/logs, labelled app=db like db/data, on its own local Block volume.
    func installLogs(_ setup: CoordinatorTests.Setup, device: String) async throws {
        try await setup.cluster.server.load(yaml: AgentTests.boundLocalBlockClaim("logs", device: device))
    }

    /// db/data and a second volume `second` (installed by `install`), backed up as db-1 (both
    /// volumes Completed) by a coordinator and an agent that the caller stops; then both devices
    /// are overwritten with the same garbage.
    struct BackedUp {
        let setup: CoordinatorTests.Setup
        let agents: AgentTests
        let running: [ChildProcess]
        let dataDevice: String
        let secondDevice: String
        /// What the second device held when it was backed up.
        let second: Data
        /// What both devices hold now.
        let lost: Data
    }

    func backUpTwoVolumes(
        _ cluster: KubeTestCluster, second name: String, seeds: (UInt64, UInt64),
        install: (CoordinatorTests.Setup, String) async throws -> Void
    ) async throws -> BackedUp {
        let setup = try await CoordinatorTests.Setup.make(cluster)
        let agents = AgentTests()
        let dataDevice = "\(cluster.directory)/pv-data.img"
        let secondDevice = "\(cluster.directory)/pv-\(name).img"
        _ = try agents.writeDevice(dataDevice, seed: seeds.0)
        let second = try agents.writeDevice(secondDevice, seed: seeds.1)
        try await agents.install(setup, device: dataDevice)
        try await install(setup, secondDevice)
        let running = [
            try setup.coordinator(identity: "coordinator", ["--unit-lease", "30"]), try agents.agent(setup, identity: "agent-1"),
        ]
        let backup = try await setup.backup("db-1", plan: "db", namespace: "db")
        #expect(backup["status"]?["phase"] == "Completed", "\(backup.json.serializedString())")
        #expect(backup["status"]?["volumes"]?.arrayValue?.count == 2, "\(backup.json.serializedString())")
        var garbage = DeterministicBytes(seed: 666)
        let lost = Data(garbage.bytes(8 << 20))
        try lost.write(to: URL(fileURLWithPath: dataDevice))
        try lost.write(to: URL(fileURLWithPath: secondDevice))
        return BackedUp(
            setup: setup, agents: agents, running: running, dataDevice: dataDevice, secondDevice: secondDevice, second: second,
            lost: lost)
    }

    func restore(_ setup: CoordinatorTests.Setup, name: String, spec: String) async throws -> KubeObject {
        try await setup.cluster.server.load(
            yaml: "apiVersion: ferry.dev/v1alpha1\nkind: Restore\nmetadata: {name: \(name), namespace: db}\nspec: \(spec)")
        return try await setup.finished("Restore", namespace: "db", name: name)
    }

    @Test func aRestoreOfOneClaimWritesOnlyItsVolume() async throws {
        try await withKubeTestCluster { cluster in
            // Both volumes lost, the claims and the pod deleted.
            let backedUp = try await backUpTwoVolumes(
                cluster, second: "logs", seeds: (31, 32), install: { try await installLogs($0, device: $1) })
            defer { backedUp.running.forEach { $0.kill() } }
            let (setup, agents, dataDevice, logsDevice) = (backedUp.setup, backedUp.agents, backedUp.dataDevice, backedUp.secondDevice)
            let (logs, lost) = (backedUp.second, backedUp.lost)
            await cluster.server.delete(apiVersion: "v1", kind: "Pod", namespace: "db", name: "db-0")
            for claim in ["data", "logs"] {
                await cluster.server.delete(apiVersion: "v1", kind: "PersistentVolumeClaim", namespace: "db", name: claim)
            }

            // A patch that does not apply: Failed, naming the object and the operation; nothing restored.
            let failed = try await restore(
                setup, name: "bad",
                spec: """
                    {backup: db-1, transforms: {patches: [{match: {kind: PersistentVolumeClaim, name: logs}, \
                    patch: [{op: test, path: /spec/volumeMode, value: Filesystem}]}]}}
                    """)
            #expect(failed["status"]?["phase"] == "Failed", "\(failed.json.serializedString())")
            let error = failed["status"]?["errors"]?[0]?.stringValue ?? ""
            #expect(
                error.contains("does not apply to PersistentVolumeClaim db/logs: operation 0 (test /spec/volumeMode) failed"), "\(error)")
            #expect(await cluster.server.object(apiVersion: "v1", kind: "PersistentVolumeClaim", namespace: "db", name: "logs") == nil)

            // Only claim logs (labelled by a patch on the way), from the command line: only its
            // volume is written.
            let transforms = "\(cluster.directory)/transforms.yaml"
            try "patches: [{match: {kind: PersistentVolumeClaim}, patch: [{op: add, path: /metadata/labels/restored, value: \"yes\"}]}]"
                .write(toFile: transforms, atomically: true, encoding: .utf8)
            let command = try await FerryProcess(password: nil).run(
                [
                    "cluster", "restore", "--backup", "db-1", "-n", "db", "--name", "logs-only", "--component", "claim:logs",
                    "--transform-file", transforms, "--wait", "--kubeconfig", "\(cluster.directory)/kubeconfig",
                ])
            #expect(command.succeeded && command.stderr.contains("Completed"), "\(command)")
            let one = try await setup.finished("Restore", namespace: "db", name: "logs-only")
            #expect(
                one["spec"]?["include"] == ["components": [["kind": "PersistentVolumeClaim", "name": "logs"]]],
                "\(one.json.serializedString())")
            #expect(one["status"]?["phase"] == "Completed", "\(one.json.serializedString())")
            #expect(one["status"]?["volumesRestored"] == ["db/logs"], "\(one.json.serializedString())")
            #expect((one["status"]?["excluded"]?.intValue ?? 0) >= 2, "\(one.json.serializedString())")
            #expect(try agents.contents(logsDevice) == logs, "the selected claim's volume holds the backup again")
            #expect(try agents.contents(dataDevice) == lost, "the other volume is not written")
            let claim = await cluster.server.object(apiVersion: "v1", kind: "PersistentVolumeClaim", namespace: "db", name: "logs")
            #expect(claim?.labels["restored"] == "yes")
            #expect(await cluster.server.object(apiVersion: "v1", kind: "PersistentVolumeClaim", namespace: "db", name: "data") == nil)
            #expect(await cluster.server.object(apiVersion: "v1", kind: "Pod", namespace: "db", name: "db-0") == nil)
        }
    }

    /// A VirtualMachine labelled app=db in the same plan as db/data: its disk claim on its own
    /// local Block volume, a cloud-init Secret and an instancetype, none of them labelled.
    func installVirtualMachine(_ setup: CoordinatorTests.Setup, device: String) async throws {
        try await setup.cluster.load("crds/kubevirt.yaml")
        try await setup.cluster.load("crds/instancetype.yaml")
        try await setup.cluster.server.load(
            yaml: AgentTests.boundLocalBlockClaim("vm-disk", device: device) + """

                ---
                apiVersion: v1
                kind: Secret
                metadata: {name: vm-cloudinit, namespace: db}
                stringData: {userdata: "#cloud-config"}
                ---
                apiVersion: instancetype.kubevirt.io/v1beta1
                kind: VirtualMachineInstancetype
                metadata: {name: small, namespace: db}
                spec: {cpu: {guest: 1}, memory: {guest: 1Gi}}
                ---
                apiVersion: kubevirt.io/v1
                kind: VirtualMachine
                metadata: {name: vm, namespace: db, labels: {app: db}}
                spec:
                  runStrategy: Halted
                  instancetype: {kind: VirtualMachineInstancetype, name: small}
                  template:
                    spec:
                      domain: {devices: {disks: [{name: root, disk: {bus: virtio}}]}}
                      volumes:
                      - {name: root, persistentVolumeClaim: {claimName: vm-disk}}
                      - {name: init, cloudInitNoCloud: {secretRef: {name: vm-cloudinit}}}
                """)
    }

    /// A Restore of one VirtualMachine out of a Backup that also holds another claim: the VM
    /// comes back with its disk's claim (and the disk's data), its Secret and its instancetype;
    /// the other claim, its volume and the pod are left alone.
    @Test func aRestoreOfOneVirtualMachineBringsItsDiskSecretAndInstancetype() async throws {
        try await withKubeTestCluster { cluster in
            // Everything lost.
            let backedUp = try await backUpTwoVolumes(
                cluster, second: "vm-disk", seeds: (41, 42), install: { try await installVirtualMachine($0, device: $1) })
            defer { backedUp.running.forEach { $0.kill() } }
            let (setup, agents, dataDevice, diskDevice) = (backedUp.setup, backedUp.agents, backedUp.dataDevice, backedUp.secondDevice)
            let (disk, lost) = (backedUp.second, backedUp.lost)
            let gone: [(String, String, String)] = [
                ("v1", "Pod", "db-0"), ("kubevirt.io/v1", "VirtualMachine", "vm"), ("v1", "Secret", "vm-cloudinit"),
                ("instancetype.kubevirt.io/v1beta1", "VirtualMachineInstancetype", "small"),
                ("v1", "PersistentVolumeClaim", "data"), ("v1", "PersistentVolumeClaim", "vm-disk"),
            ]
            for (apiVersion, kind, name) in gone {
                await cluster.server.delete(apiVersion: apiVersion, kind: kind, namespace: "db", name: name)
            }

            let one = try await restore(
                setup, name: "vm-only", spec: "{backup: db-1, include: {components: [{kind: VirtualMachine, name: vm}]}}")
            #expect(one["status"]?["phase"] == "Completed", "\(one.json.serializedString())")
            #expect(one["status"]?["volumesRestored"] == ["db/vm-disk"], "\(one.json.serializedString())")
            #expect(try agents.contents(diskDevice) == disk, "the VM's disk holds the backup again")
            #expect(try agents.contents(dataDevice) == lost, "the other claim's volume is not written")
            for (apiVersion, kind, name) in gone {
                let object = await cluster.server.object(apiVersion: apiVersion, kind: kind, namespace: "db", name: name)
                let expected = ["VirtualMachine", "Secret", "VirtualMachineInstancetype"].contains(kind) || name == "vm-disk"
                #expect((object != nil) == expected, "\(kind) \(name) restored: \(object != nil)")
            }
        }
    }
}
