import FerryAPI
import FerryBlob
import FerryKube
import FerryKubeTestServer
import FerryKubeTestSupport
import FerryRepo
import FerryTestSupport
import Foundation
import Testing

@testable import FerryResources

/// Restores of part of a snapshot and with transforms: one namespace holds a VirtualMachine (with
/// its DataVolumes, claims, Secrets, instancetype and preference), a Helm release and a claim of
/// its own; a backup of the whole namespace is restored a component at a time into fresh
/// clusters, with storage classes mapped, objects patched and Helm values rewritten.
@Suite(.serialized) struct GranularRestoreTests {
    typealias Repo = AppBackupRestoreTests.Repo

    func kubeconfig(_ cluster: KubeTestCluster) -> [String] { ["--kubeconfig", "\(cluster.directory)/kubeconfig"] }

    /// Namespace vms: the example VirtualMachine, the hello release, and claim `scratch` on its own
    /// PersistentVolume of class `scratch-class`.
    func installNamespace(_ cluster: KubeTestCluster) async throws {
        try await VirtualMachineDiscoveryTests().install(cluster)
        let namespaces = try await cluster.client.resource(apiVersion: "v1", kind: "Namespace")
        _ = try await cluster.client.patch(
            namespaces, namespace: nil, name: "vms", type: .merge,
            patch: ["metadata": ["labels": ["pod-security.kubernetes.io/enforce": "baseline"]]])
        _ = try await cluster.helm(["install", "hello", KubeTestCluster.helloChart, "-n", "vms"])
        try await cluster.server.load(
            yaml: """
                apiVersion: storage.k8s.io/v1
                kind: StorageClass
                metadata: {name: scratch-class}
                provisioner: kubernetes.io/no-provisioner
                ---
                apiVersion: v1
                kind: PersistentVolume
                metadata: {name: pv-scratch}
                spec:
                  capacity: {storage: 1Gi}
                  accessModes: [ReadWriteOnce]
                  storageClassName: scratch-class
                  hostPath: {path: /data/scratch}
                  claimRef: {namespace: vms, name: scratch}
                status: {phase: Bound}
                ---
                apiVersion: v1
                kind: PersistentVolumeClaim
                metadata: {name: scratch, namespace: vms}
                spec:
                  accessModes: [ReadWriteOnce]
                  storageClassName: scratch-class
                  volumeName: pv-scratch
                  resources: {requests: {storage: 1Gi}}
                status: {phase: Bound}
                """)
    }

    /// A backup of everything in namespace vms.
    func backUpNamespace(_ repo: Repo) async throws -> String {
        try await withKubeTestCluster { source in
            try await installNamespace(source)
            let backup = try await repo.json(["app", "backup", "--namespace", "vms", "-n", "vms"] + kubeconfig(source))
            #expect(
                backup["components"] == [
                    "claim:example-dv-template@vms", "claim:example-dv@vms", "claim:persistent-state-for-example-vm-abcde@vms",
                    "claim:scratch@vms", "helm:hello@vms", "vm:example-vm@vms",
                ])
            return try #require(backup["snapshot"]?.stringValue)
        }
    }

    /// `Kind namespace/name` of the objects a restore report says were created, sorted.
    func created(_ report: JSONValue) -> [String] {
        (report["objects"]?.arrayValue ?? []).filter { $0["action"] == "created" }.map { object in
            let kind = object["kind"]?.stringValue ?? ""
            let name = object["name"]?.stringValue ?? ""
            return object["namespace"]?.stringValue.map { "\(kind) \($0)/\(name)" } ?? "\(kind) \(name)"
        }.sorted()
    }

    /// The components the catalog records for each object: discovery's ties, followed from each
    /// VirtualMachine, release and claim down to what it uses.
    @Test func discoveryTiesEachObjectToItsComponents() async throws {
        try await withKubeTestCluster { cluster in
            try await installNamespace(cluster)
            let result = try await cluster.discover(.namespace("vms"), namespace: "vms")
            let membership = ComponentMembership.of(result)
            func members(_ text: String) throws -> [String] {
                let component = try ApplicationComponent(parsing: text)
                return membership.filter { $0.value.contains(component) }.map(\.key.description).sorted()
            }
            let crd = "CustomResourceDefinition.apiextensions.k8s.io"
            #expect(
                try members("vm:example-vm@vms") == [
                    "\(crd) datavolumes.cdi.kubevirt.io", "\(crd) virtualmachineclusterinstancetypes.instancetype.kubevirt.io",
                    "\(crd) virtualmachinepreferences.instancetype.kubevirt.io", "\(crd) virtualmachines.kubevirt.io",
                    "DataVolume.cdi.kubevirt.io vms/example-dv", "DataVolume.cdi.kubevirt.io vms/example-dv-template",
                    "PersistentVolume pvc-0001", "PersistentVolume pvc-0002", "PersistentVolume pvc-0003",
                    "PersistentVolumeClaim vms/example-dv", "PersistentVolumeClaim vms/example-dv-template",
                    "PersistentVolumeClaim vms/persistent-state-for-example-vm-abcde", "Secret vms/example-vm-ssh",
                    "Secret vms/example-vm-userdata", "StorageClass.storage.k8s.io csi-hostpath-sc",
                    "VirtualMachine.kubevirt.io vms/example-vm", "VirtualMachineClusterInstancetype.instancetype.kubevirt.io u1.medium",
                    "VirtualMachinePreference.instancetype.kubevirt.io vms/fedora",
                ])
            #expect(
                try members("claim:scratch@vms") == [
                    "PersistentVolume pv-scratch", "PersistentVolumeClaim vms/scratch", "StorageClass.storage.k8s.io scratch-class",
                ])
            let release = try members("helm:hello@vms")
            #expect(release.contains("Deployment.apps vms/hello-hello-world") && release.contains("Service vms/hello-hello-world"))
            #expect(release.contains("Secret vms/sh.helm.release.v1.hello.v1"), "\(release)")
            #expect(!release.contains { $0.contains("example") || $0.contains("scratch") }, "\(release)")
            // The namespace itself belongs to no component.
            #expect(membership[ObjectReference(group: "", kind: "Namespace", namespace: nil, name: "vms")] == [])
        }
    }

    /// One VirtualMachine out of the namespace's backup: it comes back with its DataVolumes,
    /// claims, volumes, Secrets, instancetype and preference (and the CRDs they need), storage
    /// classes mapped; the release and the other claim stay out.
    @Test func aSingleVirtualMachineComesBackWithWhatItUses() async throws {
        let repo = try await Repo.make()
        defer { repo.remove() }
        let snapshot = try await backUpNamespace(repo)
        try await withKubeTestCluster { target in
            let restored = try await repo.json(
                [
                    "app", "restore", snapshot, "--component", "vm:example-vm", "--storage-class-mapping", "rook-ceph-block=ceph-fast",
                    "--storage-class-mapping", "csi-hostpath-sc=hostpath-fast",
                ] + kubeconfig(target))
            #expect(restored["failed"] == 0, "\(restored)")
            let crd = "CustomResourceDefinition"
            #expect(
                created(restored) == [
                    "\(crd) datavolumes.cdi.kubevirt.io", "\(crd) virtualmachineclusterinstancetypes.instancetype.kubevirt.io",
                    "\(crd) virtualmachinepreferences.instancetype.kubevirt.io", "\(crd) virtualmachines.kubevirt.io",
                    "DataVolume vms/example-dv", "DataVolume vms/example-dv-template", "Namespace vms", "PersistentVolume pvc-0001",
                    "PersistentVolume pvc-0002", "PersistentVolume pvc-0003", "PersistentVolumeClaim vms/example-dv",
                    "PersistentVolumeClaim vms/example-dv-template", "PersistentVolumeClaim vms/persistent-state-for-example-vm-abcde",
                    "Secret vms/example-vm-ssh", "Secret vms/example-vm-userdata", "StorageClass csi-hostpath-sc",
                    "VirtualMachine vms/example-vm", "VirtualMachineClusterInstancetype u1.medium", "VirtualMachinePreference vms/fedora",
                ])
            #expect((restored["excluded"]?.intValue ?? 0) > 5, "\(restored)")
            // The namespace comes back as it was backed up, not as a bare one.
            let namespace = await target.server.object(apiVersion: "v1", kind: "Namespace", name: "vms")
            #expect(namespace?.labels["pod-security.kubernetes.io/enforce"] == "baseline")
            #expect(await target.server.objects(apiVersion: "apps/v1", kind: "Deployment").isEmpty)
            #expect(await target.server.object(apiVersion: "v1", kind: "PersistentVolumeClaim", namespace: "vms", name: "scratch") == nil)

            // Storage classes mapped on claims, volumes, DataVolumes and the VM's templates.
            let claim = await target.server.object(apiVersion: "v1", kind: "PersistentVolumeClaim", namespace: "vms", name: "example-dv")
            #expect(claim?["spec"]?["storageClassName"] == "hostpath-fast")
            let block = await target.server.object(apiVersion: "v1", kind: "PersistentVolume", name: "pvc-0002")
            #expect(block?["spec"]?["storageClassName"] == "ceph-fast")
            let vm = await target.server.object(apiVersion: "kubevirt.io/v1", kind: "VirtualMachine", namespace: "vms", name: "example-vm")
            #expect(vm?["spec"]?["dataVolumeTemplates"]?[0]?["spec"]?["pvc"]?["storageClassName"] == "ceph-fast")
        }
    }

    /// One claim: the claim and its volume, and nothing of the VM or the release.
    @Test func aSingleClaimComesBackAlone() async throws {
        let repo = try await Repo.make()
        defer { repo.remove() }
        let snapshot = try await backUpNamespace(repo)
        try await withKubeTestCluster { target in
            let restored = try await repo.json(["app", "restore", snapshot, "--component", "claim:scratch"] + kubeconfig(target))
            #expect(restored["failed"] == 0, "\(restored)")
            #expect(
                created(restored) == [
                    "Namespace vms", "PersistentVolume pv-scratch", "PersistentVolumeClaim vms/scratch", "StorageClass scratch-class",
                ])
            // By kind, less a component's; by label.
            let secrets = try await repo.json(
                ["app", "restore", snapshot, "--include-kind", "Secret", "--exclude-component", "helm:hello"] + kubeconfig(target))
            #expect(created(secrets) == ["Secret vms/example-vm-ssh", "Secret vms/example-vm-userdata"], "\(secrets)")
            let records = try await repo.json(["app", "restore", snapshot, "--selector", "owner=helm"] + kubeconfig(target))
            #expect(created(records) == ["Secret vms/sh.helm.release.v1.hello.v1"], "\(records)")
            let missing = try await repo.run(["app", "restore", snapshot, "--component", "vm:ghost"] + kubeconfig(target))
            #expect(missing.status == 1 && missing.stderr.contains("VirtualMachine ghost is not in this snapshot"), "\(missing)")
            #expect(missing.stderr.contains("vm:example-vm@vms"), "\(missing)")
            let misspelt = try await repo.run(["app", "restore", snapshot, "--component", "example-vm"] + kubeconfig(target))
            #expect(
                misspelt.status == 64 && misspelt.stderr.contains("\"example-vm\" is not a component: write helm:RELEASE, vm:NAME"),
                "\(misspelt)")
            let absent = try await repo.run(["app", "restore", snapshot, "--transform-file", "/nonexistent.yaml"] + kubeconfig(target))
            #expect(absent.status == 1 && absent.stderr.contains("cannot read --transform-file /nonexistent.yaml"), "\(absent)")
        }
    }

    /// A transform file: new Helm values and a patch; the release record is rewritten so `helm
    /// get values` shows the new values, and helm upgrades the release with them.
    @Test func helmValuesAndPatchesAndHelmStillManagesTheRelease() async throws {
        let repo = try await Repo.make()
        defer { repo.remove() }
        let snapshot: String = try await withKubeTestCluster { source in
            try await source.installHello(in: "web")
            _ = try await source.helm(["upgrade", "hello", KubeTestCluster.helloChart, "-n", "web", "--set", "replicaCount=2"])
            let backup = try await repo.json(["app", "backup", "--helm-release", "hello", "-n", "web"] + kubeconfig(source))
            return try #require(backup["snapshot"]?.stringValue)
        }
        let transforms = NSTemporaryDirectory() + "ferry-transforms-\(UUID().uuidString).yaml"
        defer { try? FileManager.default.removeItem(atPath: transforms) }
        try """
        helmValues:
          hello: {replicaCount: 3}
        patches:
        - match: {kind: Deployment, group: apps, name: hello-hello-world}
          patch:
          - {op: test, path: /spec/replicas, value: 2}
          - {op: replace, path: /spec/replicas, value: 3}
          - {op: add, path: /metadata/labels/restored, value: "yes"}
        """.write(toFile: transforms, atomically: true, encoding: .utf8)
        try await withKubeTestCluster { target in
            let restored = try await repo.json(
                ["app", "restore", snapshot, "--namespace-mapping", "web=web2", "--transform-file", transforms] + kubeconfig(target))
            #expect(restored["failed"] == 0, "\(restored)")
            let deployment = await target.server.object(
                apiVersion: "apps/v1", kind: "Deployment", namespace: "web2", name: "hello-hello-world")
            #expect(deployment?["spec"]?["replicas"] == 3 && deployment?.labels["restored"] == "yes")

            let values = try JSONValue(parsing: try await target.helm(["get", "values", "hello", "-n", "web2", "-o", "json"]))
            #expect(values == ["replicaCount": 3])
            let releases = try JSONValue(parsing: try await target.helm(["list", "-n", "web2", "-o", "json"]))
            #expect(releases[0]?["name"] == "hello" && releases[0]?["revision"] == "2" && releases[0]?["status"] == "deployed")
            // The older revision keeps the values it was installed with.
            let first = try JSONValue(
                parsing: try await target.helm(["get", "values", "hello", "-n", "web2", "--revision", "1", "-o", "json"]))
            #expect(first == .null || first == [:], "\(first)")

            // helm renders the release again from the rewritten values.
            _ = try await target.helm(["upgrade", "hello", KubeTestCluster.helloChart, "-n", "web2", "--reuse-values"])
            let upgraded = await target.server.object(
                apiVersion: "apps/v1", kind: "Deployment", namespace: "web2", name: "hello-hello-world")
            #expect(upgraded?["spec"]?["replicas"] == 3)
            let after = try JSONValue(parsing: try await target.helm(["get", "values", "hello", "-n", "web2", "-o", "json"]))
            #expect(after == ["replicaCount": 3])
            #expect(try await target.helm(["history", "hello", "-n", "web2"]).contains("Upgrade complete"))
        }
    }

    /// A patch that does not apply stops the restore before anything is created, naming the
    /// object and the operation; so does a release `helmValues` names that is not restored.
    @Test func aPatchThatDoesNotApplyRestoresNothing() async throws {
        let repo = try await Repo.make()
        defer { repo.remove() }
        let snapshot: String = try await withKubeTestCluster { source in
            try await source.installHello(in: "web")
            let backup = try await repo.json(["app", "backup", "--helm-release", "hello", "-n", "web"] + kubeconfig(source))
            return try #require(backup["snapshot"]?.stringValue)
        }
        let transforms = NSTemporaryDirectory() + "ferry-transforms-\(UUID().uuidString).json"
        defer { try? FileManager.default.removeItem(atPath: transforms) }
        let patch =
            #"{"patches": [{"match": {"kind": "Deployment"}, "patch": [{"op": "add", "path": "/metadata/labels/a", "value": "b"}, "#
            + #"{"op": "test", "path": "/spec/replicas", "value": 5}]}]}"#
        try patch.write(toFile: transforms, atomically: true, encoding: .utf8)
        try await withKubeTestCluster { target in
            let result = try await repo.run(["app", "restore", snapshot, "--transform-file", transforms] + kubeconfig(target))
            #expect(result.status == 1, "\(result)")
            #expect(
                result.stderr.contains(
                    "transforms.patches[0] does not apply to Deployment.apps web/hello-hello-world: "
                        + "operation 1 (test /spec/replicas) failed"
                ),
                "\(result.stderr)")
            #expect(await target.server.objects(apiVersion: "v1", kind: "Secret", namespace: "web").isEmpty)
            #expect(await target.server.object(apiVersion: "v1", kind: "Namespace", name: "web") == nil)

            try #"{"helmValues": {"other": {"a": 1}}}"#.write(toFile: transforms, atomically: true, encoding: .utf8)
            let other = try await repo.run(["app", "restore", snapshot, "--transform-file", transforms] + kubeconfig(target))
            #expect(
                other.status == 1 && other.stderr.contains("Helm release other, whose records are not restored (releases restored: hello)"),
                "\(other)")
            #expect(await target.server.object(apiVersion: "v1", kind: "Namespace", name: "web") == nil)
        }
    }

    /// A snapshot taken before components were recorded restores whole as before, by kind or
    /// label, but not by component.
    @Test func aSnapshotWithoutComponentsCannotBeRestoredByComponent() throws {
        let old =
            #"{"entries": [{"apiVersion": "v1", "kind": "Secret", "resource": "secrets", "namespaced": true, "#
            + #""namespace": "a", "name": "s", "phase": "config", "reasons": [], "object": "00", "size": 2}]}"#
        let page = try ResourceCatalogPage.decode(Array(old.utf8), name: "old page")
        let entry = try #require(page.entries.first)
        #expect(entry.components == nil)
        let secret = KubeObject(apiVersion: "v1", kind: "Secret", namespace: "a", name: "s")

        let everything = try RestoreFilter(include: nil, exclude: nil)
        try everything.check(page.entries)
        #expect(everything.selects(entry, secret))
        let byKind = try RestoreFilter(include: RestoreSelection(objects: [ObjectPattern(kind: "Secret")]), exclude: nil)
        try byKind.check(page.entries)
        #expect(byKind.selects(entry, secret))

        let byComponent = try RestoreFilter(
            include: RestoreSelection(components: [ApplicationComponent(kind: .virtualMachine, name: "db")]), exclude: nil)
        #expect(throws: RestoreSelectionError.componentsNotRecorded) { try byComponent.check(page.entries) }
        #expect(RestoreSelectionError.componentsNotRecorded.description.contains("cannot be restored by component"))
    }
    /// Storage classes are mapped wherever a class is named for a volume to be provisioned; a
    /// malformed patch is refused before anything is looked at.
    @Test func storageClassesAreMappedInEveryPlaceAndMalformedPatchesRefused() throws {
        let transforms = try UserTransforms(RestoreTransforms(storageClassMapping: ["old": "new"]), objects: [])
        let statefulSet = KubeObject(
            [
                "apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": ["name": "db", "namespace": "a"],
                "spec": [
                    "volumeClaimTemplates": [
                        ["metadata": ["name": "data"], "spec": ["storageClassName": "old"]],
                        ["metadata": ["name": "logs"], "spec": ["storageClassName": "other"]],
                    ]
                ],
            ])
        let mapped = try transforms.apply(to: statefulSet)
        #expect(mapped["spec"]?["volumeClaimTemplates"]?[0]?["spec"]?["storageClassName"] == "new")
        #expect(mapped["spec"]?["volumeClaimTemplates"]?[1]?["spec"]?["storageClassName"] == "other")
        let dataVolume = KubeObject(
            [
                "apiVersion": "cdi.kubevirt.io/v1beta1", "kind": "DataVolume", "metadata": ["name": "disk", "namespace": "a"],
                "spec": ["storage": ["storageClassName": "old"]],
            ])
        #expect(try transforms.apply(to: dataVolume)["spec"]?["storage"]?["storageClassName"] == "new")
        let claim = KubeObject(
            [
                "apiVersion": "v1", "kind": "PersistentVolumeClaim",
                "metadata": ["name": "c", "namespace": "a", "annotations": ["volume.beta.kubernetes.io/storage-class": "old"]],
            ])
        #expect(try transforms.apply(to: claim).annotations["volume.beta.kubernetes.io/storage-class"] == "new")
        // A ConfigMap naming a class is data, not a volume: left alone.
        let config = KubeObject(
            ["apiVersion": "v1", "kind": "ConfigMap", "metadata": ["name": "x", "namespace": "a"], "spec": ["storageClassName": "old"]])
        #expect(try transforms.apply(to: config) == config)

        // A patch cannot move an object out of the namespace the restore writes into.
        let move = try UserTransforms(
            RestoreTransforms(
                patches: [
                    ObjectPatch(
                        match: ObjectPattern(kind: "ConfigMap"),
                        patch: [JSONPatchOperation(op: .replace, path: "/metadata/namespace", value: "kube-system")])
                ]), objects: [])
        #expect {
            _ = try move.apply(to: config)
        } throws: { error in
            "\(error)".contains("does not apply to ConfigMap a/x: operation 0 (replace /metadata/namespace) failed: a patch may not change")
        }

        let noValue = RestoreTransforms(
            patches: [ObjectPatch(match: ObjectPattern(kind: "Deployment"), patch: [JSONPatchOperation(op: .replace, path: "/spec")])])
        #expect {
            _ = try UserTransforms(noValue, objects: [])
        } throws: { error in
            "\(error)" == "transforms.patches[0] is malformed: operation 0 (replace /spec): replace needs a value"
        }
    }

    @Test func componentsAreWrittenAsSnapshotNamesAre() throws {
        #expect(try ApplicationComponent(parsing: "vm:db@vms") == ApplicationComponent(kind: .virtualMachine, namespace: "vms", name: "db"))
        #expect(try ApplicationComponent(parsing: "helm:web") == ApplicationComponent(kind: .helmRelease, name: "web"))
        #expect(try ApplicationComponent(parsing: "PersistentVolumeClaim:data").kind == .claim)
        #expect(ApplicationComponent(kind: .claim, namespace: "a", name: "data").notation == "claim:data@a")
        for bad in ["db", "vm:", "pod:x", "vm:a@", "vm:a@b@c"] {
            #expect(throws: ApplicationComponentError(text: bad)) { try ApplicationComponent(parsing: bad) }
        }
        // A selection without a namespace names the component in any namespace.
        let any = ApplicationComponent(kind: .virtualMachine, name: "db")
        #expect(any.selects(ApplicationComponent(kind: .virtualMachine, namespace: "vms", name: "db")))
        #expect(
            !ApplicationComponent(kind: .virtualMachine, namespace: "x", name: "db").selects(
                ApplicationComponent(kind: .virtualMachine, namespace: "vms", name: "db")))
        #expect(!any.selects(ApplicationComponent(kind: .claim, namespace: "vms", name: "db")))
    }
    /// Into a namespace of the cluster the claim came from, as a namespaced Restore does: the
    /// claim stays bound to its volume, which is still there, unless its storage class is mapped
    /// (it cannot bind to a volume of the old class: it is provisioned anew).
    @Test func aClaimGivenAnotherClassLetsGoOfItsOldVolume() async throws {
        let repo = try await Repo.make()
        defer { repo.remove() }
        let snapshot = try await backUpNamespace(repo)
        let repository = try await Repository.open(
            store: try LocalDirectoryStore(root: repo.directory), password: Array("app-test-password".utf8))
        let resources = try #require(try await repository.snapshot(matching: snapshot).manifest.resources)
        try await withKubeTestCluster { cluster in
            try await cluster.server.load(
                yaml: """
                    apiVersion: v1
                    kind: PersistentVolume
                    metadata: {name: pv-scratch}
                    spec:
                      capacity: {storage: 1Gi}
                      accessModes: [ReadWriteOnce]
                      storageClassName: scratch-class
                      hostPath: {path: /data/scratch}
                    """)
            func restore(into namespace: String, mapping: [String: String]?) async throws -> KubeObject? {
                try await cluster.server.load(yaml: "apiVersion: v1\nkind: Namespace\nmetadata: {name: \(namespace)}")
                var options = ResourceRestore.Options()
                options.confinedTo = namespace
                options.include = RestoreSelection(components: [ApplicationComponent(kind: .claim, name: "scratch")])
                options.transforms = mapping.map { RestoreTransforms(storageClassMapping: $0) }
                let report = try await ResourceRestore(
                    client: cluster.client, repository: repository, resources: resources, options: options
                )
                .run()
                #expect(report.count(.failed) == 0, "\(report.objects)")
                return await cluster.server.object(apiVersion: "v1", kind: "PersistentVolumeClaim", namespace: namespace, name: "scratch")
            }
            let same = try await restore(into: "same", mapping: nil)
            #expect(same?["spec"]?["volumeName"] == "pv-scratch" && same?["spec"]?["storageClassName"] == "scratch-class")
            let moved = try await restore(into: "moved", mapping: ["scratch-class": "fast"])
            #expect(moved?["spec"]?["storageClassName"] == "fast")
            #expect(moved?["spec"]?["volumeName"] == nil, "\(moved?.json.serializedString() ?? "")")
        }
    }
}
