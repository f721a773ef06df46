import FerryKube
import FerryKubeTestServer
import FerryKubeTestSupport
import Foundation
import Synchronization
import Testing

extension AgentTests {
    /// A running VM on a CSI volume: its guest file systems are frozen (virt-api's freeze
    /// subresource, through the guest agent) while the snapshot is cut and thawed right after,
    /// before the volume is read. Without a connected guest agent the snapshot is taken
    /// crash-consistent and the Backup says so.
    @Test func aRunningVirtualMachineIsFrozenWhileItsSnapshotIsCut() async throws {
        try await withKubeTestCluster { cluster in
            let setup = try await CoordinatorTests.Setup.make(cluster)
            let live = "\(cluster.directory)/csi-h1.img"
            let original = try writeDevice(live, seed: 100)
            let hostRoot = "\(cluster.directory)/host"
            try await installCSIVolume(setup)
            _ = try await cluster.load("crds/kubevirt.yaml")
            try await cluster.server.load(
                yaml: """
                    apiVersion: kubevirt.io/v1
                    kind: VirtualMachine
                    metadata: {name: vm1, namespace: db, labels: {app: db}}
                    spec:
                      runStrategy: Always
                      template:
                        spec:
                          domain: {devices: {disks: [{name: root, disk: {bus: virtio}}]}, resources: {requests: {memory: 1Gi}}}
                          volumes: [{name: root, persistentVolumeClaim: {claimName: data}}]
                    ---
                    apiVersion: kubevirt.io/v1
                    kind: VirtualMachineInstance
                    metadata: {name: vm1, namespace: db}
                    spec:
                      domain: {devices: {disks: [{name: root, disk: {bus: virtio}}]}, resources: {requests: {memory: 1Gi}}}
                      volumes: [{name: root, persistentVolumeClaim: {claimName: data}}]
                    status:
                      phase: Running
                      nodeName: node-1
                      conditions: [{type: Ready, status: "True"}, {type: AgentConnected, status: "True"}]
                    """)
            let server = cluster.server
            let frozenAtCut = Mutex<[String: String]>([:])
            let run = try runCSI(setup, live: live, hostRoot: hostRoot) { name, _, _ in
                let vmi = await server.object(apiVersion: "kubevirt.io/v1", kind: "VirtualMachineInstance", namespace: "db", name: "vm1")
                frozenAtCut.withLock { $0[name] = vmi?["status"]?["fsFreezeStatus"]?.stringValue ?? "thawed" }
            }
            defer { run.stop() }

            let backup = try await setup.backup("db-1", plan: "db", namespace: "db")
            #expect(backup["status"]?["phase"] == "Completed" && backup["status"]?["warnings"] == nil, "\(backup.json.serializedString())")
            #expect(frozenAtCut.withLock { $0 } == ["ferry-db-1-0": "frozen"], "the snapshot is cut while the guest is frozen")
            let vmi = await server.object(apiVersion: "kubevirt.io/v1", kind: "VirtualMachineInstance", namespace: "db", name: "vm1")
            #expect(vmi?["status"]?["fsFreezeStatus"] == nil, "thawed after the snapshot")
            let calls = await server.requests().filter { $0.path.hasPrefix("/apis/subresources.kubevirt.io/") }.map {
                "\($0.method) \($0.path.split(separator: "/").last!) \($0.status)"
            }
            #expect(calls == ["PUT freeze 200", "PUT unfreeze 200"])
            #expect(try await restoredVolume(setup, snapshot: try #require(backup["status"]?["snapshot"]?.stringValue)) == original)

            // The guest agent went away: the snapshot is crash-consistent, and the Backup says so.
            let instances = try await cluster.client.resource(apiVersion: "kubevirt.io/v1", kind: "VirtualMachineInstance")
            var instance = try await cluster.client.get(instances, namespace: "db", name: "vm1")
            instance.json.setValue([["type": "Ready", "status": "True"]], at: ["status", "conditions"])
            _ = try await cluster.client.updateStatus(instances, instance)
            let second = try await setup.backup("db-2", plan: "db", namespace: "db")
            #expect(second["status"]?["phase"] == "Completed", "\(second.json.serializedString())")
            let warnings = (second["status"]?["warnings"]?.arrayValue ?? []).compactMap(\.stringValue)
            #expect(warnings.contains { $0.contains("vm1 was not frozen (Guest agent is not connected)") }, "\(warnings)")
            #expect(frozenAtCut.withLock { $0["ferry-db-2-0"] } == "thawed")
        }
    }
}
