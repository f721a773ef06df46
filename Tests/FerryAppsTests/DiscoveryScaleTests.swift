import FerryApps
import FerryKube
import FerryKubeTestServer
import FerryKubeTestSupport
import Foundation
import Testing

/// A cluster-wide plan over many namespaces makes requests by kind and page, not by object or
/// namespace: a GET per volume or a list of every kind in every namespace is what made planning
/// 10,000 claims take minutes at the client's request rate.
@Suite struct DiscoveryScaleTests {
    /// `count` namespaces, each with two labelled claims bound to local volumes, a pod using one
    /// of them, and a labelled ConfigMap.
    static func cluster(namespaces count: Int) -> String {
        var documents = [
            "apiVersion: storage.k8s.io/v1\nkind: StorageClass\nmetadata: {name: local-block}\nprovisioner: kubernetes.io/no-provisioner"
        ]
        for index in 0..<count {
            let namespace = "app-\(index)"
            documents.append("apiVersion: v1\nkind: Namespace\nmetadata: {name: \(namespace)}")
            for claim in 0..<2 {
                documents.append(
                    """
                    apiVersion: v1
                    kind: PersistentVolume
                    metadata: {name: pv-\(namespace)-\(claim)}
                    spec:
                      capacity: {storage: 1Gi}
                      volumeMode: Block
                      accessModes: [ReadWriteOnce]
                      storageClassName: local-block
                      local: {path: /dev/disk/\(namespace)-\(claim)}
                      claimRef: {namespace: \(namespace), name: data-\(claim)}
                      nodeAffinity:
                        required:
                          nodeSelectorTerms:
                          - matchExpressions: [{key: kubernetes.io/hostname, operator: In, values: [node-\(index % 3)]}]
                    ---
                    apiVersion: v1
                    kind: PersistentVolumeClaim
                    metadata: {name: data-\(claim), namespace: \(namespace), labels: {tier: db}}
                    spec:
                      volumeMode: Block
                      accessModes: [ReadWriteOnce]
                      storageClassName: local-block
                      volumeName: pv-\(namespace)-\(claim)
                      resources: {requests: {storage: 1Gi}}
                    """)
            }
            documents.append(
                """
                apiVersion: v1
                kind: Pod
                metadata: {name: db-0, namespace: \(namespace), labels: {tier: db}}
                spec:
                  nodeName: node-\(index % 3)
                  containers: [{name: db, image: "db:1"}]
                  volumes: [{name: data, persistentVolumeClaim: {claimName: data-0}}]
                ---
                apiVersion: v1
                kind: ConfigMap
                metadata: {name: settings, namespace: \(namespace), labels: {tier: db}}
                data: {key: value}
                """)
        }
        return documents.joined(separator: "\n---\n")
    }

    /// The requests a cluster-wide `tier=db` plan makes over `count` namespaces (every namespace,
    /// or the first `count` named, as a ClusterBackupPlan's selector resolves them, in a cluster
    /// of `total`), and its result.
    func plan(namespaces count: Int, named: Bool = false, among total: Int? = nil) async throws -> (
        requests: [KubeTestServer.RecordedRequest], result: DiscoveryResult
    ) {
        try await withKubeTestCluster { cluster in
            try await cluster.server.load(yaml: Self.cluster(namespaces: total ?? count))
            await cluster.server.clearRequests()
            let selector = try LabelSelector(object: ["matchLabels": ["tier": "db"]])
            let namespaces = named ? Set((0..<count).map { "app-\($0)" }) : nil
            let result = try await cluster.discover(.labelSelector(selector), scope: .cluster(namespaces: namespaces))
            return (await cluster.server.requests(), result)
        }
    }

    /// Over a few named namespaces each namespaced kind is listed per namespace (a list across
    /// the cluster would carry every other namespace's objects), but the volumes, which are
    /// cluster-scoped, are one list, not a GET each; over many named namespaces namespaced
    /// kinds are listed across the cluster too, and only the named namespaces' objects kept.
    @Test func namedNamespacesReadVolumesWithOneList() async throws {
        let few = try await plan(namespaces: 12, named: true)
        #expect(few.result.volumes.count == 24)
        #expect(few.result.volumes.allSatisfy { $0.hostPaths.count == 1 })
        let volumeGets = few.requests.filter { $0.method == "GET" && $0.path.contains("/persistentvolumes/") }
        #expect(volumeGets.count <= 4, "\(volumeGets.map(\.path))")
        #expect(!few.requests.contains { $0.path.hasSuffix("/api/v1/configmaps") }, "no namespaced kind is listed across the cluster")

        let many = try await plan(namespaces: 48, named: true, among: 60)
        #expect(many.result.volumes.count == 96, "only the named namespaces' volumes")
        #expect(many.result.components.allSatisfy { $0.reference.namespace.map { Int($0.dropFirst(4))! < 48 } ?? true })
        #expect(many.requests.contains { $0.path.hasSuffix("/api/v1/configmaps") })
        #expect(many.requests.count <= few.requests.count + 8, "\(few.requests.count) requests over 12, \(many.requests.count) over 48")
    }

    @Test func requestsGrowWithKindsAndPagesNotWithNamespaces() async throws {
        // Both past the few namespaces a walk reads one by one (Options.listsBeforeClusterWideList).
        let few = try await plan(namespaces: 12)
        let many = try await plan(namespaces: 48)
        #expect(few.result.volumes.count == 24 && many.result.volumes.count == 96)
        #expect(many.result.volumes.allSatisfy { $0.hostPaths.count == 1 && $0.storageClass == "local-block" })
        #expect(many.result.volumes.filter { !$0.usedBy.isEmpty }.count == 48)
        #expect(many.result.components.count - 1 == (few.result.components.count - 1) * 4, "one StorageClass for all")
        // Requests by method and path with the namespace left out: what grows shows there.
        let summary = { (requests: [KubeTestServer.RecordedRequest]) in
            Dictionary(grouping: requests) { request in
                "\(request.method) " + request.path.replacing(/\/namespaces\/[^\/]+\//, with: "/namespaces/*/")
            }
            .filter { $0.value.count > 2 }.map { "\($0.key) ×\($0.value.count)" }.sorted()
        }
        #expect(
            many.requests.count <= few.requests.count + 4,
            "\(few.requests.count) requests over 12 namespaces, \(many.requests.count) over 48; repeated: \(summary(many.requests))")
    }
}
