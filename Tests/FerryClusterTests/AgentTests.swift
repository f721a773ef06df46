import FerryKube
import FerryKubeTestServer
import FerryKubeTestSupport
import FerryQEMUTestSupport
import FerryTestSupport
import Foundation
import Testing

/// `ferry coordinator` and `ferry agent` as real processes: a Backup whose application has a
/// block-mode local volume becomes a VolumeTransfer the agent on the volume's node stores, and
/// the coordinator commits one snapshot with the objects and the volume.
@Suite(.serialized, .timeLimit(.minutes(10))) struct AgentTests {
    static let blockSize = 1 << 20

    /// The application: a claim bound to a local Block volume on node-1 (its device is a file
    /// here), used by a pod, all labelled app=db; a plan and its Target.
    func install(_ setup: CoordinatorTests.Setup, device: String) async throws {
        try await setup.cluster.server.load(
            yaml: """
                apiVersion: v1
                kind: Namespace
                metadata: {name: db, labels: {pod-security.kubernetes.io/enforce: restricted}}
                ---
                apiVersion: storage.k8s.io/v1
                kind: StorageClass
                metadata: {name: local-block}
                provisioner: kubernetes.io/no-provisioner
                volumeBindingMode: WaitForFirstConsumer
                ---
                \(Self.boundLocalBlockClaim("data", device: device))
                ---
                apiVersion: v1
                kind: Pod
                metadata: {name: db-0, namespace: db, uid: pod-db-0, labels: {app: db}}
                spec:
                  nodeName: node-1
                  # Hardened for the namespace's restricted level: a Restore creates this pod through admission.
                  securityContext: {runAsNonRoot: true, runAsUser: 999, seccompProfile: {type: RuntimeDefault}}
                  containers:
                  - name: db
                    image: postgres
                    securityContext: {allowPrivilegeEscalation: false, capabilities: {drop: [ALL]}}
                    volumeDevices: [{name: data, devicePath: /dev/xvda}]
                  volumes: [{name: data, persistentVolumeClaim: {claimName: data}}]
                status: {phase: Running}
                """)
        try await setup.target(in: "db")
        try await setup.cluster.server.load(
            yaml: """
                apiVersion: ferry.dev/v1alpha1
                kind: BackupPlan
                metadata: {name: db, namespace: db}
                spec: {target: local, components: {labelSelector: {matchLabels: {app: db}}}}
                """)
    }

    /// A cluster whose db/data is a device file on node-1 (`writeDevice(seed:)`), with its claim,
    /// pod, Target and plan.
    /// A claim `name` in namespace db, labelled app=db, bound to the local Block volume `pv-<name>`
    /// of 8 MiB on `device`, pinned to node-1 (as YAML: the volume, then the claim).
    static func boundLocalBlockClaim(_ name: String, device: String) -> String {
        """
        apiVersion: v1
        kind: PersistentVolume
        metadata: {name: pv-\(name)}
        spec:
          capacity: {storage: 8Mi}
          volumeMode: Block
          accessModes: [ReadWriteOnce]
          storageClassName: local-block
          local: {path: \(device)}
          claimRef: {namespace: db, name: \(name)}
          nodeAffinity:
            required:
              nodeSelectorTerms: [{matchExpressions: [{key: kubernetes.io/hostname, operator: In, values: [node-1]}]}]
        ---
        apiVersion: v1
        kind: PersistentVolumeClaim
        metadata: {name: \(name), namespace: db, labels: {app: db}}
        spec:
          volumeMode: Block
          accessModes: [ReadWriteOnce]
          storageClassName: local-block
          volumeName: pv-\(name)
          resources: {requests: {storage: 8Mi}}
        status: {phase: Bound, capacity: {storage: 8Mi}}
        """
    }

    func installedDevice(_ cluster: KubeTestCluster, seed: UInt64) async throws -> (CoordinatorTests.Setup, device: String, data: Data) {
        let setup = try await CoordinatorTests.Setup.make(cluster)
        let device = "\(cluster.directory)/pv-data.img"
        let data = try writeDevice(device, seed: seed)
        try await install(setup, device: device)
        return (setup, device, data)
    }

    /// 8 MiB: six blocks of random data and two zero blocks.
    func writeDevice(_ path: String, seed: UInt64) throws -> Data {
        var random = DeterministicBytes(seed: seed)
        var data = Data()
        for block in 0..<8 {
            data.append(block == 2 || block == 5 ? Data(count: Self.blockSize) : Data(random.bytes(Self.blockSize)))
        }
        try data.write(to: URL(fileURLWithPath: path))
        return data
    }

    func agent(_ setup: CoordinatorTests.Setup, identity: String, node: String = "node-1", stopAt: String? = nil, _ extra: [String] = [])
        throws -> ChildProcess
    {
        try setup.agent(identity: identity, node: node, extra, environment: stopAt.map { ["FERRY_TEST_STOP_AT": $0] } ?? [:])
    }

    func coordinator(_ setup: CoordinatorTests.Setup, _ extra: [String] = []) throws -> ChildProcess {
        try setup.coordinator(identity: "coordinator", ["--unit-lease", "3"] + extra)
    }

    /// A loop device over `image` (the local volume's device, as on a node).
    func loopDevice(_ image: String) throws -> LoopDevice {
        try TestEnvironment.requireRoot("loop devices")
        try TestEnvironment.requireTool("losetup")
        return try LoopDevice(backing: image)
    }

    /// The first `count` bytes of a device or file.
    func contents(_ path: String, count: Int = 8 << 20) throws -> Data {
        let handle = try FileHandle(forReadingFrom: URL(fileURLWithPath: path))
        defer { try? handle.close() }
        return try handle.read(upToCount: count) ?? Data()
    }

    /// Writes `data` at `offset` of a device or file, synchronously.
    func write(_ data: Data, at offset: UInt64, to path: String) throws {
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
        defer { try? handle.close() }
        try handle.seek(toOffset: offset)
        try handle.write(contentsOf: data)
        try handle.synchronize()
    }

    func snapshots(_ setup: CoordinatorTests.Setup) async throws -> JSONValue {
        let result = try await FerryProcess(password: "coordinator-test-password").run(["snapshots", "--repo", setup.repository, "--json"])
        #expect(result.succeeded, "\(result)")
        return try JSONValue(parsing: result.stdout)
    }

    func restoredVolume(_ setup: CoordinatorTests.Setup, snapshot: String) async throws -> Data {
        let out = "\(setup.cluster.directory)/restored.img"
        try? FileManager.default.removeItem(atPath: out)
        let result = try await FerryProcess(password: "coordinator-test-password").run([
            "restore", snapshot, out, "--volume", "db/data", "--repo", setup.repository,
        ])
        #expect(result.succeeded, "\(result)")
        return try Data(contentsOf: URL(fileURLWithPath: out))
    }

    @Test(arguments: Launch.allCases) func aVolumeIsStoredByTheAgentOnItsNodeAndCommittedWithTheObjects(_ launch: Launch) async throws {
        try await withKubeTestCluster { cluster in
            let setup = try await CoordinatorTests.Setup.make(cluster)
            let image = "\(cluster.directory)/pv-data.img"
            let original = try writeDevice(image, seed: 91)
            let loop = try loopDevice(image)
            defer { loop.detach() }
            let device = loop.path
            try await install(setup, device: device)
            // The default unit lease: on a loaded machine a short one lets the coordinator give
            // a slow unit to a second attempt, whose stats then count the blocks as deduplicated.
            let coordinator = try launch.coordinator(setup)
            defer { coordinator.end() }
            let agent = try launch.agent(setup, identity: "agent-1")
            defer { agent.end() }

            let backup = try await setup.backup("db-1", plan: "db", namespace: "db")
            #expect(backup["status"]?["phase"] == "Completed", "\(backup.json.serializedString())")
            #expect(backup["status"]?["volumes"]?[0]?["claim"] == "db/data" && backup["status"]?["volumes"]?[0]?["phase"] == "Succeeded")
            #expect(backup["status"]?["progress"]?["volumes"] == 1 && backup["status"]?["progress"]?["succeeded"] == 1)
            #expect(backup["status"]?["volumesOmitted"] == nil)
            let unit = try #require(
                await cluster.server.object(apiVersion: "ferry.dev/v1alpha1", kind: "VolumeTransfer", namespace: "db", name: "db-1-0"))
            #expect(unit["spec"]?["node"] == "node-1" && unit["spec"]?["source"]?["path"]?.stringValue == device)
            #expect(unit["spec"]?["source"]?["attached"] == false, "a live volume is refused when something holds it exclusively")
            #expect(unit.ownerReferences.first?.name == "db-1", "units go with their Backup")
            let snapshot = try #require(backup["status"]?["snapshot"]?.stringValue)
            let listing = try await snapshots(setup)
            #expect(listing[0]?["volumes"]?[0]?["name"] == "db/data" && listing[0]?["volumes"]?[0]?["stats"]?["newBlocks"] == 6)
            #expect((listing[0]?["resources"]?["count"]?.intValue ?? 0) >= 3)
            #expect(try await restoredVolume(setup, snapshot: snapshot) == original)

            // One block changes: the next backup compares with the last one and stores one block.
            var changed = original
            changed.replaceSubrange(Self.blockSize * 6..<Self.blockSize * 6 + 4096, with: Data(repeating: 0xAB, count: 4096))
            try write(Data(repeating: 0xAB, count: 4096), at: UInt64(Self.blockSize * 6), to: device)
            let second = try await setup.backup("db-2", plan: "db", namespace: "db")
            #expect(second["status"]?["phase"] == "Completed", "\(second.json.serializedString())")
            let after = try await snapshots(setup)
            let volume = try #require(after.arrayValue?.first { $0["tags"]?["backup"] == "db-2" }?["volumes"]?[0])
            #expect(volume["stats"]?["newBlocks"] == 1 && volume["stats"]?["unchangedBlocks"] == 5, "\(volume)")
            // The Backup's status says the same of its volume, and how the change was found.
            let progress = second["status"]?["volumes"]?[0]
            #expect(progress?["newBlocks"] == 1 && progress?["unchangedBlocks"] == 5, "\(second.json.serializedString())")
            #expect(progress?["changeTracking"] == "hash", "a loop device has no tracker: its blocks are compared by hash")
            #expect(progress?["bytesRead"] == volume["stats"]?["bytesRead"] && progress?["bytesStored"] == volume["stats"]?["bytesStored"])
            #expect(try await restoredVolume(setup, snapshot: try #require(second["status"]?["snapshot"]?.stringValue)) == changed)
            let check = try await FerryProcess(password: "coordinator-test-password").run([
                "check", "--read-data", "--repo", setup.repository,
            ])
            #expect(check.succeeded, "\(check)")
        }
    }

    /// The volume's data is lost and the claim and pod deleted: a Restore recreates the claim,
    /// has the agent write the data back to the volume it is bound to, and only then the pod.
    @Test(arguments: Launch.allCases) func aRestoreWritesTheVolumeBackBeforeTheWorkloadStarts(_ launch: Launch) async throws {
        try await withKubeTestCluster { cluster in
            let setup = try await CoordinatorTests.Setup.make(cluster)
            let image = "\(cluster.directory)/pv-data.img"
            let original = try writeDevice(image, seed: 93)
            let loop = try loopDevice(image)
            defer { loop.detach() }
            let device = loop.path
            try await install(setup, device: device)
            let coordinator = try launch.coordinator(setup)
            defer { coordinator.end() }
            let agent = try launch.agent(setup, identity: "agent-1")
            defer { agent.end() }
            #expect(try await setup.backup("db-1", plan: "db", namespace: "db")["status"]?["phase"] == "Completed")

            var garbage = DeterministicBytes(seed: 666)
            try write(Data(garbage.bytes(8 << 20)), at: 0, to: device)
            await cluster.server.delete(apiVersion: "v1", kind: "Pod", namespace: "db", name: "db-0")
            await cluster.server.delete(apiVersion: "v1", kind: "PersistentVolumeClaim", namespace: "db", name: "data")
            await cluster.server.clearRequests()
            try await cluster.server.load(
                yaml: "apiVersion: ferry.dev/v1alpha1\nkind: Restore\nmetadata: {name: back, namespace: db}\nspec: {backup: db-1}")
            let restore = try await setup.finished("Restore", namespace: "db", name: "back")
            #expect(restore["status"]?["phase"] == "Completed", "\(restore.json.serializedString())")
            #expect(restore["status"]?["volumesRestored"] == ["db/data"])
            #expect(try contents(device) == original, "the device holds the backup again")
            let unit = try #require(
                await cluster.server.object(apiVersion: "ferry.dev/v1alpha1", kind: "VolumeTransfer", namespace: "db", name: "back-0"))
            #expect(unit["spec"]?["direction"] == "Restore" && unit["status"]?["phase"] == "Succeeded")

            // Claim, then data, then the pod.
            let requests = await cluster.server.requests()
            let claim = try #require(
                requests.firstIndex { $0.method == "POST" && $0.path.hasSuffix("/namespaces/db/persistentvolumeclaims") })
            let written = try #require(requests.lastIndex { $0.method == "PUT" && $0.path.hasSuffix("/volumetransfers/back-0/status") })
            let pod = try #require(requests.firstIndex { $0.method == "POST" && $0.path.hasSuffix("/namespaces/db/pods") })
            #expect(claim < written && written < pod)
        }
    }

    /// A stopped KubeVirt VM whose disk is a qcow2 `disk.img` on a filesystem-mode local volume:
    /// the agent reads the guest's disk through the image format, like `qemu-img convert`.
    @Test(.enabled(if: QEMUTools.shouldRun)) func aVirtualMachinesDiskImageIsBackedUpAsTheGuestSeesIt() async throws {
        try await withKubeTestCluster { cluster in
            let setup = try await CoordinatorTests.Setup.make(cluster)
            try await cluster.load("crds/kubevirt.yaml")
            let volume = "\(cluster.directory)/pv-vm1"
            try FileManager.default.createDirectory(atPath: volume, withIntermediateDirectories: true)
            try QEMUTools.img("create", "-f", "qcow2", "disk.img", "16M", in: volume)
            try QEMUTools.io("disk.img", ["write -P 0x5a 0 3M", "write -P 0xc3 9M 2M", "write -z 10M 64k"], in: volume)
            // KubeVirt keeps a persistent dirty bitmap in the image for changed-block tracking.
            try QEMUTools.img("bitmap", "--add", "disk.img", "kubevirt-cbt", in: volume)
            try await cluster.server.load(
                yaml: """
                    apiVersion: v1
                    kind: Namespace
                    # No Pod Security label: KubeVirt's virt-launcher pods add capabilities beyond baseline,
                    # so a VM namespace is privileged on a real cluster too.
                    metadata: {name: vms}
                    ---
                    apiVersion: v1
                    kind: PersistentVolume
                    metadata: {name: pv-vm1}
                    spec:
                      capacity: {storage: 64Mi}
                      volumeMode: Filesystem
                      accessModes: [ReadWriteOnce]
                      storageClassName: local-disks
                      local: {path: \(volume)}
                      claimRef: {namespace: vms, name: vm1-disk}
                      nodeAffinity:
                        required:
                          nodeSelectorTerms: [{matchExpressions: [{key: kubernetes.io/hostname, operator: In, values: [node-1]}]}]
                    ---
                    apiVersion: v1
                    kind: PersistentVolumeClaim
                    metadata: {name: vm1-disk, namespace: vms}
                    spec:
                      accessModes: [ReadWriteOnce]
                      storageClassName: local-disks
                      volumeName: pv-vm1
                      resources: {requests: {storage: 64Mi}}
                    status: {phase: Bound, capacity: {storage: 64Mi}}
                    ---
                    apiVersion: kubevirt.io/v1
                    kind: VirtualMachine
                    metadata: {name: vm1, namespace: vms}
                    spec:
                      runStrategy: Halted
                      template:
                        spec:
                          domain: {devices: {disks: [{name: root, disk: {bus: virtio}}]}, resources: {requests: {memory: 1Gi}}}
                          volumes: [{name: root, persistentVolumeClaim: {claimName: vm1-disk}}]
                    """)
            try await setup.target(in: "vms")
            try await cluster.server.load(
                yaml: """
                    apiVersion: ferry.dev/v1alpha1
                    kind: BackupPlan
                    metadata: {name: vm1, namespace: vms}
                    spec: {target: local, components: {virtualMachines: [{name: vm1}]}}
                    ---
                    apiVersion: ferry.dev/v1alpha1
                    kind: Backup
                    metadata: {name: vm1-1, namespace: vms}
                    spec: {plan: vm1}
                    """)
            let coordinator = try coordinator(setup)
            defer { coordinator.kill() }
            let agent = try agent(setup, identity: "agent-1")
            defer { agent.kill() }
            let backup = try await setup.finished("Backup", namespace: "vms", name: "vm1-1")
            #expect(backup["status"]?["phase"] == "Completed", "\(backup.json.serializedString())")
            let unit = try #require(
                await cluster.server.object(apiVersion: "ferry.dev/v1alpha1", kind: "VolumeTransfer", namespace: "vms", name: "vm1-1-0"))
            #expect(unit["spec"]?["source"]?["path"]?.stringValue == "\(volume)/disk.img")
            let listing = try await snapshots(setup)
            #expect(listing[0]?["volumes"]?[0]?["format"] == "qcow2" && listing[0]?["volumes"]?[0]?["size"] == .int(16 << 20))
            let out = "\(cluster.directory)/vm1.raw"
            let restored = try await FerryProcess(password: "coordinator-test-password").run(
                [
                    "restore", try #require(backup["status"]?["snapshot"]?.stringValue), out, "--volume", "vms/vm1-disk", "--repo",
                    setup.repository,
                ])
            #expect(restored.succeeded, "\(restored)")
            #expect(try [UInt8](Data(contentsOf: URL(fileURLWithPath: out))) == QEMUTools.convertToRaw("disk.img", in: volume))
            #expect(
                unit["status"]?["result"]?["changeTracking"]?["bookmark"]?["bitmap"] == "kubevirt-cbt", "\(unit.json.serializedString())")

            // The guest writes 64 KiB; the next backup reads only the block the bitmap marks.
            try QEMUTools.io("disk.img", ["write -P 0x77 5M 64k"], in: volume)
            let second = try await setup.backup("vm1-2", plan: "vm1", namespace: "vms")
            #expect(second["status"]?["phase"] == "Completed", "\(second.json.serializedString())")
            let incremental = try #require(
                await cluster.server.object(apiVersion: "ferry.dev/v1alpha1", kind: "VolumeTransfer", namespace: "vms", name: "vm1-2-0"))
            let result = incremental["status"]?["result"]
            #expect(result?["changeTracking"]?["provider"] == "qcow2-bitmap", "\(incremental.json.serializedString())")
            #expect(
                result?["stats"]?["bytesRead"] == .int(1 << 20) && result?["stats"]?["newBlocks"] == 1,
                "\(result?["stats"]?.serializedString() ?? "")")
            let again = "\(cluster.directory)/vm1-2.raw"
            let restoredAgain = try await FerryProcess(password: "coordinator-test-password").run(
                [
                    "restore", try #require(second["status"]?["snapshot"]?.stringValue), again, "--volume", "vms/vm1-disk", "--repo",
                    setup.repository,
                ])
            #expect(restoredAgain.succeeded, "\(restoredAgain)")
            #expect(try [UInt8](Data(contentsOf: URL(fileURLWithPath: again))) == QEMUTools.convertToRaw("disk.img", in: volume))
        }
    }

    /// A CSI volume: the coordinator snapshots the claim, restores the snapshot into a new claim,
    /// runs a pause pod on it, and the agent on that pod's node reads the kubelet's device. The
    /// test plays the CSI snapshotter and provisioner and the scheduler and kubelet (there is no
    /// cluster): it copies the volume at the moment the snapshot is requested, then keeps writing
    /// to the live volume, which the backup must not see.
    @Test func aCSIVolumeIsReadThroughAnExposedSnapshot() async throws {
        try await withKubeTestCluster { cluster in
            let setup = try await CoordinatorTests.Setup.make(cluster)
            let live = "\(cluster.directory)/csi-h1.img"
            let original = try writeDevice(live, seed: 94)
            let hostRoot = "\(cluster.directory)/host"
            try await installCSIVolume(setup)
            let run = try runCSI(setup, live: live, hostRoot: hostRoot)
            defer { run.stop() }

            let backup = try await setup.backup("db-1", plan: "db", namespace: "db")
            #expect(backup["status"]?["phase"] == "Completed", "\(backup.json.serializedString())")
            let unit = try #require(
                await cluster.server.object(apiVersion: "ferry.dev/v1alpha1", kind: "VolumeTransfer", namespace: "db", name: "db-1-0"))
            #expect(unit["spec"]?["node"] == "node-2" && unit["spec"]?["volume"] == "db/data")
            #expect(unit["spec"]?["source"]?["path"]?.stringValue?.contains("/volumeDevices/kubernetes.io~csi/") == true)
            #expect(unit["spec"]?["source"]?["attached"] == true, "Ferry's own attachment is opened although the kubelet holds it")
            #expect(try Data(contentsOf: URL(fileURLWithPath: live)) != original, "the live volume changed after the snapshot")
            #expect(try await restoredVolume(setup, snapshot: try #require(backup["status"]?["snapshot"]?.stringValue)) == original)
            // The snapshot, its claim and the pause pod are gone.
            #expect(await cluster.server.objects(apiVersion: "snapshot.storage.k8s.io/v1", kind: "VolumeSnapshot", namespace: "db").isEmpty)
            #expect(await cluster.server.object(apiVersion: "v1", kind: "Pod", namespace: "db", name: "ferry-db-1-0") == nil)
            #expect(
                await cluster.server.object(apiVersion: "v1", kind: "PersistentVolumeClaim", namespace: "db", name: "ferry-db-1-0") == nil)

            // The claim is lost; a Restore recreates it and writes the data through an attaching pod.
            await cluster.server.delete(apiVersion: "v1", kind: "PersistentVolumeClaim", namespace: "db", name: "data")
            try await cluster.server.load(
                yaml: "apiVersion: ferry.dev/v1alpha1\nkind: Restore\nmetadata: {name: back, namespace: db}\nspec: {backup: db-1}")
            let restore = try await setup.finished("Restore", namespace: "db", name: "back")
            #expect(
                restore["status"]?["phase"] == "Completed" && restore["status"]?["volumesRestored"] == ["db/data"],
                "\(restore.json.serializedString())")
            let writer = try #require(
                await cluster.server.object(apiVersion: "ferry.dev/v1alpha1", kind: "VolumeTransfer", namespace: "db", name: "back-0"))
            #expect(writer["spec"]?["source"]?["path"]?.stringValue?.contains("/volumeDevices/kubernetes.io~csi/") == true)
            let written = try await csiVolumeFile(cluster, claim: "data", live: live)
            #expect(try Data(contentsOf: URL(fileURLWithPath: written)) == original, "the attached volume holds the backup")
            #expect(
                await cluster.server.object(apiVersion: "v1", kind: "Pod", namespace: "db", name: "ferry-back-0") == nil,
                "the attaching pod is gone")
            #expect(
                await cluster.server.object(apiVersion: "v1", kind: "PersistentVolumeClaim", namespace: "db", name: "data") != nil,
                "the restored claim stays")
        }
    }

    /// A CSI volume (driver hostpath.csi.k8s.io, handle h1, Block or Filesystem mode) claimed as
    /// db/data, the snapshot CRDs and class, and a plan of everything labelled app=db.
    func installCSIVolume(_ setup: CoordinatorTests.Setup, mode: String = "Block") async throws {
        let cluster = setup.cluster
        for crd in ["volumesnapshotclasses", "volumesnapshotcontents", "volumesnapshots"] {
            try await cluster.load("csi/external-snapshotter/crd/snapshot.storage.k8s.io_\(crd).yaml")
        }
        try await cluster.load("csi/external-snapshotter/examples/snapshotclass-v1.yaml")
        try await cluster.server.load(
            yaml: """
                apiVersion: v1
                kind: Namespace
                metadata: {name: db, labels: {pod-security.kubernetes.io/enforce: restricted}}
                ---
                apiVersion: storage.k8s.io/v1
                kind: StorageClass
                metadata: {name: csi-hostpath-sc}
                provisioner: hostpath.csi.k8s.io
                ---
                apiVersion: v1
                kind: PersistentVolume
                metadata: {name: pv-csi}
                spec:
                  capacity: {storage: 8Mi}
                  volumeMode: \(mode)
                  accessModes: [ReadWriteOnce]
                  storageClassName: csi-hostpath-sc
                  csi: {driver: hostpath.csi.k8s.io, volumeHandle: h1}
                  claimRef: {namespace: db, name: data}
                ---
                apiVersion: v1
                kind: PersistentVolumeClaim
                metadata: {name: data, namespace: db, labels: {app: db}}
                spec:
                  volumeMode: \(mode)
                  accessModes: [ReadWriteOnce]
                  storageClassName: csi-hostpath-sc
                  volumeName: pv-csi
                  resources: {requests: {storage: 8Mi}}
                status: {phase: Bound, capacity: {storage: 8Mi}}
                """)
        try await setup.target(in: "db")
        try await cluster.server.load(
            yaml: """
                apiVersion: ferry.dev/v1alpha1
                kind: BackupPlan
                metadata: {name: db, namespace: db}
                spec: {target: local, components: {labelSelector: {matchLabels: {app: db}}}}
                """)
    }

    /// A Backup waiting for its volume (no agent yet) does not hold up another plan's Backup.
    @Test func aBackupWaitingForItsVolumeDoesNotHoldUpOthers() async throws {
        try await withKubeTestCluster { cluster in
            let setup = try await CoordinatorTests.Setup.make(cluster)
            let device = "\(cluster.directory)/pv-data.img"
            let original = try writeDevice(device, seed: 95)
            try await install(setup, device: device)
            try await cluster.server.load(
                yaml: """
                    apiVersion: v1
                    kind: ConfigMap
                    metadata: {name: settings, namespace: db, labels: {app: cfg}}
                    data: {mode: fast}
                    ---
                    apiVersion: ferry.dev/v1alpha1
                    kind: BackupPlan
                    metadata: {name: cfg, namespace: db}
                    spec: {target: local, components: {labelSelector: {matchLabels: {app: cfg}}}}
                    ---
                    apiVersion: ferry.dev/v1alpha1
                    kind: Backup
                    metadata: {name: db-1, namespace: db}
                    spec: {plan: db}
                    """)
            let coordinator = try coordinator(setup)
            defer { coordinator.kill() }
            // db-1 is waiting for an agent once its unit exists.
            let units = try await cluster.client.resource(apiVersion: "ferry.dev/v1alpha1", kind: "VolumeTransfer")
            for try await event in cluster.client.watch(units, namespace: "db", resourceVersion: nil) where event.object?.name == "db-1-0" {
                break
            }
            let other = try await setup.backup("cfg-1", plan: "cfg", namespace: "db")
            #expect(other["status"]?["phase"] == "Completed" && other["status"]?["resources"] == 1, "\(other.json.serializedString())")
            let waiting = try #require(
                await cluster.server.object(apiVersion: "ferry.dev/v1alpha1", kind: "Backup", namespace: "db", name: "db-1"))
            #expect(waiting["status"]?["phase"] == "InProgress")

            let agent = try agent(setup, identity: "late")
            defer { agent.kill() }
            let backup = try await setup.finished("Backup", namespace: "db", name: "db-1")
            #expect(backup["status"]?["phase"] == "Completed")
            #expect(try await restoredVolume(setup, snapshot: try #require(backup["status"]?["snapshot"]?.stringValue)) == original)
        }
    }

    /// The agent dies after storing data but before reporting: the coordinator sees no
    /// heartbeat for a unit lease, requeues the unit, and another agent finishes it.
    @Test func aSilentAgentsUnitIsRequeuedAndFinishedByAnother() async throws {
        try await withKubeTestCluster { cluster in
            let setup = try await CoordinatorTests.Setup.make(cluster)
            let device = "\(cluster.directory)/pv-data.img"
            let original = try writeDevice(device, seed: 92)
            try await install(setup, device: device)
            let coordinator = try coordinator(setup)
            defer { coordinator.kill() }
            let doomed = try agent(setup, identity: "doomed", stopAt: "pack-stored")
            defer { doomed.kill() }

            try await cluster.server.load(
                yaml: "apiVersion: ferry.dev/v1alpha1\nkind: Backup\nmetadata: {name: db-1, namespace: db}\nspec: {plan: db}")
            #expect(await doomed.waitUntilStopped())
            doomed.kill(SIGKILL)
            _ = await doomed.wait()
            let rescuer = try agent(setup, identity: "rescuer")
            defer { rescuer.kill() }

            let backup = try await setup.finished("Backup", namespace: "db", name: "db-1")
            #expect(backup["status"]?["phase"] == "Completed", "\(backup.json.serializedString())")
            let unit = try #require(
                await cluster.server.object(apiVersion: "ferry.dev/v1alpha1", kind: "VolumeTransfer", namespace: "db", name: "db-1-0"))
            #expect(unit["status"]?["attempt"]?.stringValue?.hasPrefix("rescuer-") == true, "\(unit.json.serializedString())")
            #expect(try await restoredVolume(setup, snapshot: try #require(backup["status"]?["snapshot"]?.stringValue)) == original)
            coordinator.kill(SIGTERM)
            let log = await coordinator.wait().stderr
            #expect(log.contains("VolumeTransfer db/db-1-0: requeued (no heartbeat from attempt doomed-"), "\(log)")
        }
    }
}
