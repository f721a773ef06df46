import FerryApps
import FerryKube
import FerryKubeTestServer
import FerryKubeTestSupport
import Foundation
import Testing

/// Label-selector and whole-namespace applications.
@Suite struct SelectionDiscoveryTests {
    static let shop = """
        apiVersion: v1
        kind: Namespace
        metadata: {name: shop}
        ---
        apiVersion: v1
        kind: ConfigMap
        metadata: {name: web-config, namespace: shop, labels: {app.kubernetes.io/part-of: shop, tier: web}}
        ---
        apiVersion: v1
        kind: Secret
        metadata: {name: db-password, namespace: shop, labels: {app.kubernetes.io/part-of: shop, tier: db}}
        stringData: {password: hunter2}
        ---
        apiVersion: v1
        kind: Secret
        metadata: {name: web-canary, namespace: shop, labels: {app.kubernetes.io/part-of: shop, tier: web, canary: "true"}}
        ---
        apiVersion: v1
        kind: ConfigMap
        metadata: {name: unrelated, namespace: shop, labels: {tier: web}}
        ---
        apiVersion: apps/v1
        kind: Deployment
        metadata: {name: web, namespace: shop, uid: web-uid, labels: {app.kubernetes.io/part-of: shop, tier: web}}
        spec:
          selector: {matchLabels: {app: web}}
          template:
            metadata: {labels: {app: web}}
            spec:
              containers: [{name: web, image: "web:1"}]
              volumes: [{name: uploads, persistentVolumeClaim: {claimName: uploads}}]
        ---
        apiVersion: apps/v1
        kind: ReplicaSet
        metadata:
          name: web-6f8d9
          namespace: shop
          uid: rs-uid
          ownerReferences: [{apiVersion: apps/v1, kind: Deployment, name: web, uid: web-uid, controller: true}]
        spec: {selector: {matchLabels: {app: web}}}
        ---
        apiVersion: v1
        kind: Pod
        metadata:
          name: web-6f8d9-x2x2x
          namespace: shop
          uid: pod-uid-web
          labels: {app: web}
          ownerReferences: [{apiVersion: apps/v1, kind: ReplicaSet, name: web-6f8d9, uid: rs-uid, controller: true}]
        spec:
          nodeName: node-1
          containers: [{name: web, image: "web:1"}]
          volumes: [{name: uploads, persistentVolumeClaim: {claimName: uploads}}]
        status: {phase: Running}
        ---
        apiVersion: v1
        kind: PersistentVolumeClaim
        metadata: {name: uploads, namespace: shop}
        spec:
          accessModes: [ReadWriteOnce]
          storageClassName: csi-hostpath-sc
          volumeName: pv-uploads
          resources: {requests: {storage: 1Gi}}
        status: {phase: Bound, capacity: {storage: 1Gi}}
        ---
        apiVersion: v1
        kind: PersistentVolume
        metadata: {name: pv-uploads}
        spec:
          capacity: {storage: 1Gi}
          accessModes: [ReadWriteOnce]
          storageClassName: csi-hostpath-sc
          csi: {driver: hostpath.csi.k8s.io, volumeHandle: h-1}
        ---
        apiVersion: storage.k8s.io/v1
        kind: StorageClass
        metadata: {name: csi-hostpath-sc}
        provisioner: hostpath.csi.k8s.io
        ---
        apiVersion: v1
        kind: Event
        metadata: {name: web.1, namespace: shop}
        involvedObject: {kind: Deployment, name: web, namespace: shop}
        reason: ScalingReplicaSet
        ---
        apiVersion: v1
        kind: ConfigMap
        metadata: {name: kube-root-ca.crt, namespace: shop}
        data: {ca.crt: x}
        ---
        apiVersion: v1
        kind: Secret
        metadata: {name: default-token-abcde, namespace: shop, annotations: {kubernetes.io/service-account.name: default}}
        type: kubernetes.io/service-account-token
        """

    /// An object labelled `ferry.dev/exclude: "true"` and what the plan excludes are left out and
    /// not followed: the excluded claim takes its volume, PV and StorageClass with it.
    @Test func excludedObjectsAreLeftOutAndNotFollowed() async throws {
        try await withKubeTestCluster { cluster in
            try await cluster.server.load(yaml: Self.shop)
            try await cluster.server.load(
                yaml: """
                    apiVersion: v1
                    kind: ConfigMap
                    metadata: {name: scratch, namespace: shop, labels: {app.kubernetes.io/part-of: shop, ferry.dev/exclude: "true"}}
                    """)
            let selector = try LabelSelector(object: ["matchLabels": ["app.kubernetes.io/part-of": "shop"]])
            let everything = try await cluster.discover(.labelSelector(selector), scope: .namespace("shop"))
            #expect(everything.volumes.count == 1)
            let result = try await cluster.discover(
                .labelSelector(selector), scope: .namespace("shop"),
                exclusions: [
                    ObjectPattern(kind: "PersistentVolumeClaim", name: "uploads"),
                    ObjectPattern(kind: "Secret", group: "", name: "web-canary"),
                ])
            #expect(result.references == ["ConfigMap shop/web-config", "Secret shop/db-password", "Deployment.apps shop/web"])
            #expect(result.volumes.isEmpty)
            let dropped = Dictionary(uniqueKeysWithValues: result.dropped.map { ($0.reference.description, $0.why) })
            #expect(dropped["ConfigMap shop/scratch"] == "labelled ferry.dev/exclude=true")
            #expect(dropped["PersistentVolumeClaim shop/uploads"] == "excluded by the plan (PersistentVolumeClaim uploads)")
            #expect(dropped["Secret shop/web-canary"] == "excluded by the plan (Secret web-canary)")
            // A rule for another group leaves the core kind alone.
            let other = try await cluster.discover(
                .labelSelector(selector), scope: .namespace("shop"), exclusions: [ObjectPattern(kind: "Secret", group: "example.com")])
            #expect(other.references.contains("Secret shop/db-password"))
        }
    }

    @Test func labelSelectorWithExpressions() async throws {
        try await withKubeTestCluster { cluster in
            try await cluster.server.load(yaml: Self.shop)
            let selector = try LabelSelector(object: [
                "matchLabels": ["app.kubernetes.io/part-of": "shop"],
                "matchExpressions": [
                    ["key": "tier", "operator": "In", "values": ["web", "db"]], ["key": "canary", "operator": "DoesNotExist"],
                ],
            ])
            let result = try await cluster.discover(.labelSelector(selector), namespace: "shop")
            let label = "matches label selector app.kubernetes.io/part-of=shop,!canary,tier in (db,web)"
            #expect(
                result.summary == [
                    "ConfigMap shop/web-config <- \(label)",
                    "PersistentVolume pv-uploads <- PersistentVolume bound to PersistentVolumeClaim shop/uploads",
                    "PersistentVolumeClaim shop/uploads <- claim of volume uploads of Deployment.apps shop/web",
                    "Secret shop/db-password <- \(label)",
                    "Deployment.apps shop/web <- \(label)",
                    "StorageClass.storage.k8s.io csi-hostpath-sc <- StorageClass of PersistentVolume pv-uploads; "
                        + "StorageClass of PersistentVolumeClaim shop/uploads",
                ])
            #expect(result.dropped.map(\.reference.description) == ["ReplicaSet.apps shop/web-6f8d9"])
            #expect(result.volumes.count == 1)
            let uploads = result.volumes[0]
            // No VolumeSnapshotClass is served: the live volume is read through its pod's mount.
            #expect(uploads.csiDriver == "hostpath.csi.k8s.io" && uploads.snapshotClass == nil)
            #expect(uploads.nodes == ["node-1"] && uploads.usedBy.map(\.description) == ["Pod shop/web-6f8d9-x2x2x"])
            #expect(
                uploads.hostPaths == [
                    .init(
                        node: "node-1", path: "/var/lib/kubelet/pods/pod-uid-web/volumes/kubernetes.io~csi/pv-uploads/mount",
                        kind: .podVolumeMount)
                ])
            #expect(
                uploads.readMethod
                    == .hostPath(node: "node-1", path: "/var/lib/kubelet/pods/pod-uid-web/volumes/kubernetes.io~csi/pv-uploads/mount"))
        }
    }

    @Test func labelSelectorAcrossTheCluster() async throws {
        try await withKubeTestCluster { cluster in
            try await cluster.server.load(yaml: Self.shop)
            try await cluster.server.load(
                yaml: """
                    apiVersion: v1
                    kind: ConfigMap
                    metadata: {name: other-config, namespace: kube-public, labels: {app.kubernetes.io/part-of: shop}}
                    ---
                    apiVersion: rbac.authorization.k8s.io/v1
                    kind: ClusterRole
                    metadata: {name: shop-reader, labels: {app.kubernetes.io/part-of: shop}}
                    """)
            let selector = try LabelSelector(parsing: "app.kubernetes.io/part-of=shop,!canary")
            let namespaced = try await cluster.discover(.labelSelector(selector), namespace: "shop")
            #expect(!namespaced.references.contains("ConfigMap kube-public/other-config"))
            #expect(!namespaced.references.contains("ClusterRole.rbac.authorization.k8s.io shop-reader"))
            let everywhere = try await cluster.discover(.labelSelector(selector), scope: .cluster(namespaces: nil))
            #expect(everywhere.references.contains("ConfigMap kube-public/other-config"))
            #expect(everywhere.references.contains("ClusterRole.rbac.authorization.k8s.io shop-reader"))
            let two = try await cluster.discover(.labelSelector(selector), scope: .cluster(namespaces: ["shop", "kube-public"]))
            #expect(Set(two.references) == Set(everywhere.references))
        }
    }

    @Test func wholeNamespaceWithRegeneratedObjectsDroppedAndForbiddenReported() async throws {
        try await withKubeTestCluster { cluster in
            try await cluster.server.load(yaml: Self.shop)
            await cluster.server.deny(
                .init(
                    verbs: ["list"], resource: "secrets", namespace: "shop",
                    reason: "RBAC: clusterrole.rbac.authorization.k8s.io \"secret-reader\" not found"))
            let result = try await cluster.discover(.namespace("shop"), namespace: "shop")
            #expect(
                result.references == [
                    "ConfigMap shop/unrelated", "ConfigMap shop/web-config", "Namespace shop", "PersistentVolume pv-uploads",
                    "PersistentVolumeClaim shop/uploads", "Deployment.apps shop/web", "StorageClass.storage.k8s.io csi-hostpath-sc",
                ])
            #expect(
                result.dropped.map { "\($0.reference): \($0.why)" } == [
                    "ConfigMap shop/kube-root-ca.crt: published into every namespace by the cluster",
                    "Pod shop/web-6f8d9-x2x2x: created by its controller ReplicaSet web-6f8d9",
                    "ReplicaSet.apps shop/web-6f8d9: created by its controller Deployment web",
                ])
            // The denied list is reported; nothing else is lost.
            #expect(
                result.issues.map(\.description) == [
                    #"forbidden: secrets in namespace shop: secrets is forbidden: User "system:admin" cannot list resource "secrets" "#
                        + #"in API group "" in the namespace "shop": RBAC: clusterrole.rbac.authorization.k8s.io "secret-reader" not found"#
                ])
            await cluster.server.clearDenials()
            let full = try await cluster.discover(.namespace("shop"), namespace: "shop")
            #expect(full.references.contains("Secret shop/db-password") && full.references.contains("Secret shop/web-canary"))
            #expect(
                full.dropped.contains {
                    $0.reference.name == "default-token-abcde" && $0.why == "service account tokens are issued by the cluster"
                })
            // Another namespace is outside a plan bound to "shop".
            let other = try await cluster.discover(.namespace("kube-system"), namespace: "shop")
            #expect(other.components.isEmpty && other.issues.map(\.kind) == [.outOfScope])
        }
    }

    @Test func largeNamespacesAreWalkedPageByPage() async throws {
        try await withKubeTestCluster { cluster in
            try await cluster.server.load(yaml: Self.shop)
            // 3,000 ConfigMaps the application does not use, and one Deployment that is selected.
            let filler = (0..<3000).map { i -> JSONValue in
                [
                    "apiVersion": "v1", "kind": "ConfigMap", "metadata": ["name": .string("filler-\(i)"), "namespace": "shop"],
                    "data": ["i": .string(String(i))],
                ]
            }
            try await cluster.server.load(filler)
            await cluster.server.clearRequests()
            let selector = try LabelSelector(parsing: "tier=db")
            let result = try await cluster.discover(.labelSelector(selector), namespace: "shop", pageSize: 250)
            #expect(result.references == ["Secret shop/db-password"])
            // The owner-reference scan of the namespace read the ConfigMaps in pages of 250 and
            // kept none of them (only owned objects are held).
            let configMapLists = await cluster.server.requests().filter {
                $0.path == "/api/v1/namespaces/shop/configmaps" && $0.query["labelSelector"] == nil
            }
            #expect(configMapLists.count == 13)
            #expect(configMapLists.allSatisfy { $0.query["limit"] == "250" })
            #expect(configMapLists.filter { $0.query["continue"] != nil }.count == 12)
            // The whole namespace, paged, is complete.
            let everything = try await cluster.discover(.namespace("shop"), namespace: "shop", pageSize: 250)
            #expect(everything.components.filter { $0.reference.kind == "ConfigMap" }.count == 3002)
        }
    }
}
