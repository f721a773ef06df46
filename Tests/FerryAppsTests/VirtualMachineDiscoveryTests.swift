import FerryApps
import FerryKube
import FerryKubeTestServer
import FerryKubeTestSupport
import Testing

@Suite struct VirtualMachineDiscoveryTests {
    static let launcherUID = "3f1a2b4c-0000-4000-8000-00000000abcd"

    func install(_ cluster: KubeTestCluster) async throws {
        for crd in [
            "crds/kubevirt.yaml", "crds/cdi.yaml", "crds/instancetype.yaml",
            "csi/external-snapshotter/crd/snapshot.storage.k8s.io_volumesnapshotclasses.yaml",
        ] {
            try await cluster.load(crd)
        }
        try await cluster.load("csi/external-snapshotter/examples/snapshotclass-v1.yaml")
        try await cluster.server.load(yaml: "apiVersion: v1\nkind: Namespace\nmetadata: {name: vms}")
        try await cluster.load("kubevirt/velero-plugin-examples/vm.yaml", namespace: "vms") { vm in
            vm.setValue("vm-uid-1", at: ["metadata", "uid"])
            vm.setValue(["kind": "VirtualMachineClusterInstancetype", "name": "u1.medium"], at: ["spec", "instancetype"])
            vm.setValue(["kind": "VirtualMachinePreference", "name": "fedora"], at: ["spec", "preference"])
            vm.setValue(
                [
                    [
                        "sshPublicKey": [
                            "source": ["secret": ["secretName": "example-vm-ssh"]],
                            "propagationMethod": ["qemuGuestAgent": ["users": ["fedora"]]],
                        ]
                    ]
                ],
                at: ["spec", "template", "spec", "accessCredentials"])
            var volumes = vm["spec"]?["template"]?["spec"]?["volumes"]?.arrayValue ?? []
            volumes[2].setValue(["name": "example-vm-userdata"], at: ["cloudInitNoCloud", "secretRef"])
            vm.setValue(.array(volumes), at: ["spec", "template", "spec", "volumes"])
        }
        try await cluster.load("kubevirt/velero-plugin-examples/datavolume.yaml", namespace: "vms")
        try await cluster.load("scenarios/virtual-machine.yaml")
        try await cluster.server.load(
            yaml: """
                apiVersion: cdi.kubevirt.io/v1beta1
                kind: DataVolume
                metadata:
                  name: example-dv-template
                  namespace: vms
                  uid: dv-template-uid
                  ownerReferences: [{apiVersion: kubevirt.io/v1, kind: VirtualMachine, name: example-vm, uid: vm-uid-1, controller: true}]
                spec: {pvc: {accessModes: [ReadWriteOnce], volumeMode: Block, resources: {requests: {storage: 5Gi}}}, source: {blank: {}}}
                ---
                apiVersion: kubevirt.io/v1
                kind: VirtualMachineInstance
                metadata:
                  name: example-vm
                  namespace: vms
                  uid: vmi-uid-1
                  ownerReferences: [{apiVersion: kubevirt.io/v1, kind: VirtualMachine, name: example-vm, uid: vm-uid-1, controller: true}]
                spec: {domain: {devices: {}}}
                status: {phase: Running, nodeName: node-c}
                ---
                apiVersion: v1
                kind: Pod
                metadata:
                  name: virt-launcher-example-vm-x7k2p
                  namespace: vms
                  uid: \(Self.launcherUID)
                  labels: {kubevirt.io: virt-launcher, vm.kubevirt.io/name: example-vm, kubevirt.io/created-by: vmi-uid-1}
                  ownerReferences:
                  - {apiVersion: kubevirt.io/v1, kind: VirtualMachineInstance, name: example-vm, uid: vmi-uid-1, controller: true}
                spec:
                  nodeName: node-c
                  containers: [{name: compute, image: virt-launcher}]
                  volumes:
                  - {name: volume0, persistentVolumeClaim: {claimName: example-dv}}
                  - {name: volume1, persistentVolumeClaim: {claimName: example-dv-template}}
                  - {name: persistent-state, persistentVolumeClaim: {claimName: persistent-state-for-example-vm-abcde}}
                status: {phase: Running}
                """)
        // CDI owns the claim it populates.
        let claims = try await cluster.client.resource(apiVersion: "v1", kind: "PersistentVolumeClaim")
        _ = try await cluster.client.patch(
            claims, namespace: "vms", name: "example-dv-template", type: .merge,
            patch: [
                "metadata": [
                    "ownerReferences": [
                        [
                            "apiVersion": "cdi.kubevirt.io/v1beta1", "kind": "DataVolume", "name": "example-dv-template",
                            "uid": "dv-template-uid", "controller": true,
                        ]
                    ]
                ]
            ])
    }

    @Test func virtualMachineWithItsDisksStateAndSecrets() async throws {
        try await withKubeTestCluster { cluster in
            try await install(cluster)
            let result = try await cluster.discover(.virtualMachine(name: "example-vm"), namespace: "vms")
            let vm = "VirtualMachine example-vm"
            let vmRef = "VirtualMachine.kubevirt.io vms/example-vm"
            let crd = "CustomResourceDefinition.apiextensions.k8s.io"
            #expect(
                result.summary == [
                    "PersistentVolume pvc-0001 <- PersistentVolume bound to PersistentVolumeClaim vms/example-dv",
                    "PersistentVolume pvc-0002 <- PersistentVolume bound to PersistentVolumeClaim vms/example-dv-template",
                    "PersistentVolume pvc-0003 <- "
                        + "PersistentVolume bound to PersistentVolumeClaim vms/persistent-state-for-example-vm-abcde",
                    "PersistentVolumeClaim vms/example-dv <- "
                        + "claim populated by DataVolume.cdi.kubevirt.io vms/example-dv; volume volume0 of \(vm)",
                    "PersistentVolumeClaim vms/example-dv-template <- "
                        + "claim populated by DataVolume.cdi.kubevirt.io vms/example-dv-template; dataVolumeTemplate of \(vm); "
                        + "owned by DataVolume.cdi.kubevirt.io vms/example-dv-template; volume volume1 of \(vm)",
                    "PersistentVolumeClaim vms/persistent-state-for-example-vm-abcde <- persistent state (TPM/EFI) of \(vm)",
                    "Secret vms/example-vm-ssh <- SSH public keys of \(vm)",
                    "Secret vms/example-vm-userdata <- cloudInitNoCloud secretRef of \(vm)",
                    "\(crd) datavolumes.cdi.kubevirt.io <- CustomResourceDefinition of captured DataVolume.cdi.kubevirt.io vms/example-dv; "
                        + "CustomResourceDefinition of captured DataVolume.cdi.kubevirt.io vms/example-dv-template",
                    "\(crd) virtualmachineclusterinstancetypes.instancetype.kubevirt.io <- "
                        + "CustomResourceDefinition of captured VirtualMachineClusterInstancetype.instancetype.kubevirt.io u1.medium",
                    "\(crd) virtualmachinepreferences.instancetype.kubevirt.io <- "
                        + "CustomResourceDefinition of captured VirtualMachinePreference.instancetype.kubevirt.io vms/fedora",
                    "\(crd) virtualmachines.kubevirt.io <- CustomResourceDefinition of captured \(vmRef)",
                    "DataVolume.cdi.kubevirt.io vms/example-dv <- volume volume0 of \(vm)",
                    "DataVolume.cdi.kubevirt.io vms/example-dv-template <- "
                        + "dataVolumeTemplate of \(vm); owned by \(vmRef); volume volume1 of \(vm)",
                    "VirtualMachineClusterInstancetype.instancetype.kubevirt.io u1.medium <- instancetype of \(vm)",
                    "VirtualMachinePreference.instancetype.kubevirt.io vms/fedora <- preference of \(vm)",
                    "\(vmRef) <- the VirtualMachine",
                    "StorageClass.storage.k8s.io csi-hostpath-sc <- StorageClass of PersistentVolume pvc-0001; "
                        + "StorageClass of PersistentVolume pvc-0003; StorageClass of PersistentVolumeClaim vms/example-dv; "
                        + "StorageClass of PersistentVolumeClaim vms/persistent-state-for-example-vm-abcde",
                ])
            #expect(
                result.dropped.map { "\($0.reference): \($0.why)" } == [
                    "VirtualMachineInstance.kubevirt.io vms/example-vm: started by its VirtualMachine example-vm"
                ])
            // The rook-ceph StorageClass the template names does not exist on this cluster.
            #expect(
                result.issues.map(\.description) == [
                    #"missing: StorageClass.storage.k8s.io rook-ceph-block: storageclasses.storage.k8s.io "rook-ceph-block" not found"#
                ])

            let pod = "/var/lib/kubelet/pods/\(Self.launcherUID)"
            let disk = try #require(result.volumes.first { $0.claim.name == "example-dv" })
            #expect(disk.mode == .filesystem && disk.sizeBytes == 5 << 30 && disk.csiDriver == "hostpath.csi.k8s.io")
            #expect(disk.snapshotClass == "csi-hostpath-snapclass-v1" && disk.nodes == ["node-c"])
            #expect(disk.readMethod == .csiSnapshot(snapshotClass: "csi-hostpath-snapclass-v1", driver: "hostpath.csi.k8s.io"))
            #expect(
                disk.hostPaths == [
                    .init(node: "node-c", path: "\(pod)/volumes/kubernetes.io~csi/pvc-0001/mount/disk.img", kind: .diskImage)
                ])
            #expect(disk.usedBy.map(\.description) == ["Pod vms/virt-launcher-example-vm-x7k2p", vmRef])
            let block = try #require(result.volumes.first { $0.claim.name == "example-dv-template" })
            #expect(block.mode == .block && block.snapshotClass == nil && block.volumeHandle == "0001-0009-rook-ceph-0000000000000001-0002")
            #expect(
                block.hostPaths == [.init(node: "node-c", path: "\(pod)/volumeDevices/kubernetes.io~csi/pvc-0002", kind: .podBlockDevice)])
            #expect(block.readMethod == .hostPath(node: "node-c", path: "\(pod)/volumeDevices/kubernetes.io~csi/pvc-0002"))
            let state = try #require(result.volumes.first { $0.claim.name == "persistent-state-for-example-vm-abcde" })
            #expect(state.sizeBytes == 10 << 20 && state.hostPaths.map(\.kind) == [.podVolumeMount])

            let order = result.restorePlan.map { "\($0.phase)" }
            #expect(
                order == [
                    "CustomResourceDefinitions", "Secrets and ConfigMaps (including Helm release storage)",
                    "storage classes, volumes and claims (data restored)", "custom resources", "VirtualMachines",
                ])
            let storage = try #require(result.restorePlan.first { $0.phase == .storage })
            #expect(
                storage.components.map(\.reference.kind) == [
                    "StorageClass", "PersistentVolume", "PersistentVolume", "PersistentVolume", "PersistentVolumeClaim",
                    "PersistentVolumeClaim", "PersistentVolumeClaim", "DataVolume", "DataVolume",
                ])
        }
    }

    @Test func missingKubeVirtIsReported() async throws {
        try await withKubeTestCluster { cluster in
            let result = try await cluster.discover(.virtualMachine(name: "anything"), namespace: "default")
            #expect(result.components.isEmpty)
            #expect(result.issues.map(\.description) == ["unknownKind: VirtualMachine anything: KubeVirt (kubevirt.io) is not installed"])
        }
    }

    @Test func volumeDeletedMidWalkIsReported() async throws {
        try await withKubeTestCluster { cluster in
            try await install(cluster)
            // Strike when the walk reads the claim: its volume disappears before the walk gets to it.
            await cluster.server.addHook(
                .init(times: 1, matching: { $0.method == "GET" && $0.path.hasSuffix("/persistentvolumeclaims/example-dv") }) { _, server in
                    await server.delete(apiVersion: "v1", kind: "PersistentVolume", name: "pvc-0001")
                    return .proceed
                })
            let result = try await cluster.discover(.virtualMachine(name: "example-vm"), namespace: "vms")
            #expect(!result.references.contains("PersistentVolume pvc-0001"))
            #expect(result.references.contains("PersistentVolumeClaim vms/example-dv"))
            #expect(
                result.issues.map(\.description).contains(#"missing: PersistentVolume pvc-0001: persistentvolumes "pvc-0001" not found"#))
            let disk = try #require(result.volumes.first { $0.claim.name == "example-dv" })
            #expect(disk.volumeName == "pvc-0001" && disk.csiDriver == nil)
            #expect(disk.hostPaths.isEmpty && disk.readMethod == .unavailable("its PersistentVolume pvc-0001 could not be read"))
        }
    }
}
