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
        catalog.merge(APIResourceCatalog(resources: try APIResourceCatalog.resources(fromResourceList: try Fixtures.json("discovery/api__v1.json")), preferredVersions: ["": "v1"]))
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
            try APIResourceCatalog(aggregated: ["kind": "APIGroupDiscoveryList", "items": [["metadata": ["name": "x"], "versions": [["resources": []]]]]])
        }
        #expect(throws: DiscoveryDocumentError.self) { try APIResourceCatalog.resources(fromResourceList: ["resources": []]) }
    }

    @Test func buildsObjectPaths() throws {
        let catalog = try APIResourceCatalog(aggregated: try Fixtures.json("discovery/aggregated_v2.json"))
        let deployments = try #require(catalog.resource(apiVersion: "apps/v1", kind: "Deployment"))
        #expect(deployments.path(namespace: "ns", name: "web", subresource: "status") == "/apis/apps/v1/namespaces/ns/deployments/web/status")
        #expect(deployments.path() == "/apis/apps/v1/deployments")
        let classes = try #require(catalog.resource(apiVersion: "storage.k8s.io/v1", kind: "StorageClass"))
        #expect(classes.path(namespace: "ignored", name: "fast") == "/apis/storage.k8s.io/v1/storageclasses/fast")
    }
}
