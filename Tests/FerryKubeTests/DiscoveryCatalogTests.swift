import FerryKube
import Testing

@Suite struct DiscoveryCatalogTests {
    @Test func parsesRecordedAggregatedDiscovery() throws {
        let catalog = try APIResourceCatalog(aggregated: try Fixtures.json("discovery/aggregated_v2.json"))
        let deployments = try #require(catalog.resource(apiVersion: "apps/v1", kind: "Deployment"))
        #expect(deployments.name == "deployments")
        #expect(deployments.namespaced)
        #expect(deployments.shortNames == ["deploy"])
        #expect(deployments.subresources.sorted() == ["scale", "status"])
        #expect(deployments.verbs.isSuperset(of: ["get", "list", "watch", "create", "update", "patch", "delete"]))
        let storageClasses = try #require(catalog.resource(for: GroupKind(group: "storage.k8s.io", kind: "StorageClass")))
        #expect(!storageClasses.namespaced)
        #expect(catalog.preferredVersions["autoscaling"] == "v2")
        #expect(catalog.preferredVersions["flowcontrol.apiserver.k8s.io"] == "v1")
        #expect(Set(catalog.groups).count == 22)
    }

    @Test func parsesRecordedLegacyDocuments() throws {
        let core = try APIResourceCatalog.resources(fromResourceList: try Fixtures.json("discovery/api__v1.json"))
        let pods = try #require(core.first { $0.name == "pods" })
        #expect(pods.kind == "Pod")
        #expect(pods.shortNames == ["po"])
        #expect(pods.subresources.contains("status") && pods.subresources.contains("log") && pods.subresources.contains("exec"))
        #expect(!core.contains { $0.name.contains("/") })
        let groups = try APIResourceCatalog.groups(fromGroupList: try Fixtures.json("discovery/apis.json"))
        #expect(groups.first { $0.name == "autoscaling" }?.preferred == "v2")
        let apps = try APIResourceCatalog.resources(fromResourceList: try Fixtures.json("discovery/apis__apps__v1.json"))
        #expect(apps.first { $0.name == "statefulsets" }?.subresources.sorted() == ["scale", "status"])
    }

    @Test func resolvesNamesLikeKubectl() throws {
        var catalog = try APIResourceCatalog(aggregated: try Fixtures.json("discovery/aggregated_v2.json"))
        catalog.merge(
            APIResourceCatalog(
                resources: try APIResourceCatalog.resources(fromResourceList: try Fixtures.json("discovery/api__v1.json")),
                preferredVersions: ["": "v1"]))
        for text in ["deploy", "deployment", "deployments", "Deployment", "deployments.apps", "deployments.v1.apps"] {
            #expect(catalog.resolve(text).map(\.groupKind) == [GroupKind(group: "apps", kind: "Deployment")], "\(text)")
        }
        #expect(catalog.resolve("po").first?.kind == "Pod")
        #expect(catalog.resolve("hpa").first?.version == "v2")
        #expect(catalog.resolve("nonsense").isEmpty)
        // `events` exists in the core group and events.k8s.io: both are reported.
        #expect(Set(catalog.resolve("events").map(\.group)) == ["", "events.k8s.io"])
    }

    @Test func rejectsMalformedDocuments() {
        #expect(throws: DiscoveryDocumentError.self) { try APIResourceCatalog(aggregated: ["kind": "APIGroupList"]) }
        #expect(throws: DiscoveryDocumentError.self) {
            try APIResourceCatalog(aggregated: [
                "kind": "APIGroupDiscoveryList", "items": [["metadata": ["name": "x"], "versions": [["resources": []]]]],
            ])
        }
        #expect(throws: DiscoveryDocumentError.self) { try APIResourceCatalog.resources(fromResourceList: ["resources": []]) }
    }

    @Test func buildsObjectPaths() throws {
        let catalog = try APIResourceCatalog(aggregated: try Fixtures.json("discovery/aggregated_v2.json"))
        let deployments = try #require(catalog.resource(apiVersion: "apps/v1", kind: "Deployment"))
        #expect(
            deployments.path(namespace: "ns", name: "web", subresource: "status") == "/apis/apps/v1/namespaces/ns/deployments/web/status")
        #expect(deployments.path() == "/apis/apps/v1/deployments")
        let classes = try #require(catalog.resource(apiVersion: "storage.k8s.io/v1", kind: "StorageClass"))
        #expect(classes.path(namespace: "ignored", name: "fast") == "/apis/storage.k8s.io/v1/storageclasses/fast")
    }
}

@Suite struct TypedViewTests {
    @Test func podSpecsOfEveryWorkloadKind() throws {
        let template: JSONValue = [
            "spec": ["serviceAccountName": "builder", "volumes": [["name": "cache", "persistentVolumeClaim": ["claimName": "c"]]]]
        ]
        let cronJob = KubeObject(
            apiVersion: "batch/v1", kind: "CronJob", name: "nightly", body: ["spec": ["jobTemplate": ["spec": ["template": template]]]])
        let spec = try #require(PodSpecView(of: cronJob))
        #expect(spec.volumes == [.init(name: "cache", claimName: "c")] && spec.serviceAccountName == "builder")
        let deployment = KubeObject(
            apiVersion: "apps/v1", kind: "Deployment", name: "d", body: ["spec": ["template": ["spec": ["serviceAccountName": "default"]]]])
        #expect(PodSpecView(of: deployment)?.serviceAccountName == nil, "the default account is not a dependency")
        #expect(PodSpecView(of: KubeObject(apiVersion: "v1", kind: "ConfigMap", name: "x")) == nil)
    }

    @Test func virtualMachineReferencesOfAnUpstreamExample() throws {
        let documents = try YAMLDocuments.parse(try Fixtures.text("kubevirt/kubevirt-examples/vm-alpine-multipvc.yaml"))
        let vm = try #require(VirtualMachineView(KubeObject(documents[0])))
        #expect(vm.diskClaims.count == 2)
        #expect(vm.instancetype == nil && vm.preference == nil)
        var edited = documents[0]
        edited.setValue(["name": "u1.small"], at: ["spec", "instancetype"])
        #expect(VirtualMachineView(KubeObject(edited))?.instancetype == .init(kind: "VirtualMachineClusterInstancetype", name: "u1.small"))
    }

    @Test func volumeViews() throws {
        let pv = PersistentVolumeView(KubeObject(try Fixtures.json("objects/kubectl-neat/pv1-raw.json")))
        #expect(pv?.hostPath?.hasPrefix("/tmp/hostpath-provisioner/") == true && pv?.capacity != nil)
        let claims = try Fixtures.json("objects/kubeclient-recorded/persistent_volume_claim_list.json")
        let first = try #require(try ObjectList(json: claims).items.first)
        let claim = try #require(PersistentVolumeClaimView(first))
        #expect(claim.volumeMode == "Filesystem" && claim.requestedStorage != nil)
        #expect(PersistentVolumeClaimView(KubeObject(apiVersion: "v1", kind: "Pod", name: "p")) == nil)
    }
}
