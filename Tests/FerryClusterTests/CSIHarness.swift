import FerryKube
import FerryKubeTestSupport
import FerryTestSupport
import Foundation
import Testing

extension AgentTests {
    /// What the CSI external-snapshotter, snapshot controller and external-provisioner, the
    /// scheduler and the kubelet would do in namespace db, driven by watch events (there is no
    /// cluster here). Each volume is a file: `pv-csi` is `live`, a provisioned one
    /// `csi-volumes/<pv>`. A snapshot is a copy of its claim's volume at `live.NAME` with the CSI
    /// handle `handle-NAME` (its VolumeSnapshotContent says so, and the source's volume mode);
    /// `cut` hears of each, and after a snapshot of `live` the application goes on writing to
    /// it. Claims are provisioned when created (empty, or from their snapshot) — but, as the
    /// snapshot controller does, not from a snapshot of another volume mode unless its content
    /// allows the change (a pod that waits for such a claim fails). Pods are scheduled on `nodes`
    /// in turn, where their claim's volume appears at the kubelet's device path.
    func playCSIAndKubelet(
        _ cluster: KubeTestCluster, live: String, hostRoot: String, nodes: [String] = ["node-2"],
        cut: @escaping @Sendable (_ name: String, _ handle: String, _ path: String) async -> Void = { _, _, _ in }
    ) -> Task<Void, any Error> {
        let client = cluster.client
        let volumesDirectory = "\(cluster.directory)/csi-volumes"
        @Sendable func backing(_ pv: String) -> String { pv == "pv-csi" ? live : "\(volumesDirectory)/\(pv)" }
        return Task {
            try FileManager.default.createDirectory(atPath: volumesDirectory, withIntermediateDirectories: true)
            let claims = try await client.resource(apiVersion: "v1", kind: "PersistentVolumeClaim")
            let contents = try await client.resource(apiVersion: "snapshot.storage.k8s.io/v1", kind: "VolumeSnapshotContent")
            let volumes = try await client.resource(apiVersion: "v1", kind: "PersistentVolume")

            /// Whether the snapshot controller refuses to provision `claim` from its snapshot.
            @Sendable func conversionRefused(_ claim: KubeObject) async throws -> Bool {
                guard let source = claim["spec"]?["dataSource"]?["name"]?.stringValue else { return false }
                let content = try await client.get(contents, namespace: nil, name: "content-\(source)")
                return content["spec"]?["sourceVolumeMode"] != (claim["spec"]?["volumeMode"] ?? "Filesystem")
                    && content.annotations["snapshot.storage.kubernetes.io/allow-volume-mode-change"] != "true"
            }

            async let snapshots: Void = {
                let resource = try await client.resource(apiVersion: "snapshot.storage.k8s.io/v1", kind: "VolumeSnapshot")
                for try await event in client.watch(resource, namespace: "db", resourceVersion: nil) {
                    guard case .added(var snapshot) = event else { continue }
                    let source = try await client.get(
                        claims, namespace: "db", name: snapshot["spec"]?["source"]?["persistentVolumeClaimName"]?.stringValue ?? "")
                    let pv = try #require(source["spec"]?["volumeName"]?.stringValue, "a snapshot of an unbound claim")
                    let copy = "\(live).\(snapshot.name)", handle = "handle-\(snapshot.name)"
                    try FileManager.default.copyItem(atPath: backing(pv), toPath: copy)
                    if pv == "pv-csi" {
                        let writer = try FileHandle(forWritingTo: URL(fileURLWithPath: live))
                        try writer.write(contentsOf: Data(repeating: 0xEE, count: 4096))
                        try writer.close()
                    }
                    var content = KubeObject(
                        apiVersion: "snapshot.storage.k8s.io/v1", kind: "VolumeSnapshotContent", name: "content-\(snapshot.name)")
                    content.json["spec"] = [
                        "driver": "hostpath.csi.k8s.io", "deletionPolicy": "Delete", "source": ["volumeHandle": .string(pv)],
                        "volumeSnapshotRef": ["namespace": "db", "name": .string(snapshot.name)],
                        "sourceVolumeMode": source["spec"]?["volumeMode"] ?? "Filesystem",
                    ]
                    content = try await client.create(contents, content)
                    content.json["status"] = ["snapshotHandle": .string(handle), "readyToUse": true, "restoreSize": .int(8 << 20)]
                    _ = try await client.updateStatus(contents, content)
                    await cut(snapshot.name, handle, copy)
                    snapshot.json["status"] = [
                        "readyToUse": true, "restoreSize": "8Mi", "boundVolumeSnapshotContentName": .string(content.name),
                    ]
                    _ = try await client.updateStatus(resource, snapshot)
                }
            }()

            async let provisioner: Void = {
                for try await event in client.watch(claims, namespace: "db", resourceVersion: nil) {
                    guard case .added(var claim) = event, claim["spec"]?["volumeName"]?.stringValue?.isEmpty ?? true,
                        try await !conversionRefused(claim)
                    else { continue }
                    let pvName = "pvc-\(claim.uid ?? claim.name)"
                    if let source = claim["spec"]?["dataSource"]?["name"]?.stringValue {
                        try FileManager.default.copyItem(atPath: "\(live).\(source)", toPath: backing(pvName))
                    } else {
                        try Data(count: 8 << 20).write(to: URL(fileURLWithPath: backing(pvName)))
                    }
                    var volume = KubeObject(apiVersion: "v1", kind: "PersistentVolume", name: pvName)
                    volume.json["spec"] = [
                        "capacity": ["storage": "8Mi"], "volumeMode": claim["spec"]?["volumeMode"] ?? "Filesystem",
                        "accessModes": ["ReadWriteOnce"],
                        "csi": ["driver": "hostpath.csi.k8s.io", "volumeHandle": .string(pvName)],
                        "claimRef": ["namespace": "db", "name": .string(claim.name)],
                    ]
                    _ = try await client.create(volumes, volume)
                    claim.json.setValue(.string(pvName), at: ["spec", "volumeName"])
                    _ = try await client.update(claims, claim)
                }
            }()

            let pods = try await client.resource(apiVersion: "v1", kind: "Pod")
            var scheduled = 0
            for try await event in client.watch(pods, namespace: "db", resourceVersion: nil) {
                guard case .added(var pod) = event, pod.name.hasPrefix("ferry") else { continue }
                let claimName = try #require(pod["spec"]?["volumes"]?[0]?["persistentVolumeClaim"]?["claimName"]?.stringValue)
                var claim = try await client.get(claims, namespace: "db", name: claimName)
                if try await conversionRefused(claim) {
                    pod.json["status"] = [
                        "phase": "Failed", "message": .string("claim \(claimName): volume mode conversion from a snapshot is not allowed"),
                    ]
                    _ = try await client.updateStatus(pods, pod)
                    continue
                }
                // The provisioner binds the claim first (it saw the claim before this pod).
                for _ in 0..<500 where claim["spec"]?["volumeName"]?.stringValue?.isEmpty ?? true {
                    try await Task.sleep(for: .milliseconds(20))
                    claim = try await client.get(claims, namespace: "db", name: claimName)
                }
                let pv = try #require(claim["spec"]?["volumeName"]?.stringValue, "claim \(claimName) was never bound")
                // As the kubelet lays it out: the pod's device is a link to an absolute node path
                // in the CSI plugins tree, where the published device is (here the volume's file,
                // hard-linked under the host root the agent mounts).
                let device = "\(hostRoot)/var/lib/kubelet/pods/\(pod.uid!)/volumeDevices/kubernetes.io~csi"
                let publish = "/var/lib/kubelet/plugins/kubernetes.io/csi/volumeDevices/publish/\(pv)/\(pod.uid!)"
                try FileManager.default.createDirectory(atPath: device, withIntermediateDirectories: true)
                try FileManager.default.createDirectory(
                    atPath: hostRoot + (publish as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
                try FileManager.default.linkItem(atPath: backing(pv), toPath: hostRoot + publish)
                try FileManager.default.createSymbolicLink(atPath: "\(device)/\(pv)", withDestinationPath: publish)
                pod.json.setValue(.string(nodes[scheduled % nodes.count]), at: ["spec", "nodeName"])
                scheduled += 1
                pod = try await client.update(pods, pod)
                pod.json["status"] = ["phase": "Running"]
                _ = try await client.updateStatus(pods, pod)
            }
            try await snapshots
            try await provisioner
        }
    }

    /// The file behind the volume a claim in db is bound to (see `playCSIAndKubelet`).
    func csiVolumeFile(_ cluster: KubeTestCluster, claim: String, live: String) async throws -> String {
        let bound = try #require(await cluster.server.object(apiVersion: "v1", kind: "PersistentVolumeClaim", namespace: "db", name: claim))
        let pv = try #require(bound["spec"]?["volumeName"]?.stringValue, "claim db/\(claim) is not bound")
        return pv == "pv-csi" ? live : "\(cluster.directory)/csi-volumes/\(pv)"
    }

    /// What a CSI test runs: the harness playing the cluster (`playCSIAndKubelet`), a
    /// coordinator that exposes snapshots, and an agent (`agent-<node>`) on each of `nodes`.
    struct CSIRun {
        let controllers: Task<Void, any Error>
        let processes: [ChildProcess]

        func stop() {
            controllers.cancel()
            for process in processes { process.kill() }
        }
    }

    func runCSI(
        _ setup: CoordinatorTests.Setup, live: String, hostRoot: String, nodes: [String] = ["node-2"], agentArguments: [String] = [],
        cut: @escaping @Sendable (_ name: String, _ handle: String, _ path: String) async -> Void = { _, _, _ in }
    ) throws -> CSIRun {
        let controllers = playCSIAndKubelet(setup.cluster, live: live, hostRoot: hostRoot, nodes: nodes, cut: cut)
        var processes: [ChildProcess] = []
        do {
            processes.append(try coordinator(setup, ["--exposer-image", "ferry:test"]))
            for node in nodes {
                processes.append(try agent(setup, identity: "agent-\(node)", node: node, ["--host-root", hostRoot] + agentArguments))
            }
        } catch {
            CSIRun(controllers: controllers, processes: processes).stop()
            throw error
        }
        return CSIRun(controllers: controllers, processes: processes)
    }
}
