import FerryApps
import FerryKube
import FerryKubeTestServer
import FerryKubeTestSupport
import FerryTestSupport
import Foundation
import Testing

/// Helm releases written by the real helm into the test server, then discovered.
@Suite(.serialized) struct HelmDiscoveryTests {
    static let helloChart = KubeTestCluster.helloChart
    static let dbChart = Fixtures.url("helm/statefulset-db").path

    @Test func helloWorldReleaseAfterAnUpgrade() async throws {
        try await withKubeTestCluster { cluster in
            _ = try await cluster.helm(["install", "hello", Self.helloChart, "-n", "web", "--create-namespace"])
            _ = try await cluster.helm([
                "upgrade", "hello", Self.helloChart, "-n", "web", "--set", "replicaCount=2",
            ])
            let result = try await cluster.discover(.helmRelease(name: "hello"), namespace: "web")
            #expect(
                result.summary == [
                    "Secret web/sh.helm.release.v1.hello.v1 <- storage of Helm release hello revision 1",
                    "Secret web/sh.helm.release.v1.hello.v2 <- storage of Helm release hello revision 2",
                    "Service web/hello-hello-world <- in the manifest of Helm release hello (revision 2)",
                    "ServiceAccount web/hello-hello-world <- in the manifest of Helm release hello (revision 2); "
                        + "service account of Deployment.apps web/hello-hello-world",
                    "Deployment.apps web/hello-hello-world <- in the manifest of Helm release hello (revision 2)",
                ])
            #expect(result.issues.isEmpty, "\(result.issues)")
            #expect(result.volumes.isEmpty)
            // Captured form: server-set fields gone, content kept.
            let deployment = try #require(
                result.component(ObjectReference(group: "apps", kind: "Deployment", namespace: "web", name: "hello-hello-world")))
            #expect(deployment.object.uid == nil && deployment.object.resourceVersion == nil && deployment.object["status"] == nil)
            #expect(deployment.object.metadata["creationTimestamp"] == nil && deployment.object.metadata["managedFields"] == nil)
            #expect(deployment.object["spec"]?["replicas"] == 2)
            let service = try #require(
                result.component(ObjectReference(group: "", kind: "Service", namespace: "web", name: "hello-hello-world")))
            #expect(service.object["spec"]?["clusterIP"] == nil, "allocated cluster IPs are not captured")
            let storage = try #require(result.components.first { $0.reference.name == "sh.helm.release.v1.hello.v2" })
            #expect(storage.object["data"]?["release"] != nil && storage.object.labels["status"] == "deployed")
        }
    }

    @Test func decodesReleaseRecordsHelmWrote() async throws {
        try await withKubeTestCluster { cluster in
            _ = try await cluster.helm(["install", "hello", Self.helloChart, "-n", "default"])
            let secrets = try await cluster.client.resource(apiVersion: "v1", kind: "Secret")
            let storage = try await cluster.client.get(secrets, namespace: "default", name: "sh.helm.release.v1.hello.v1")
            let release = try HelmRelease(storageObject: storage)
            #expect(release.name == "hello" && release.revision == 1 && release.status == "deployed" && release.namespace == "default")
            #expect(release.chartName == "hello-world" && release.chartVersion == "0.1.0" && release.appVersion == "1.16.0")
            let entries = try HelmRelease.entries(ofManifest: release.manifest)
            #expect(
                Set(entries.map { "\($0.kind)/\($0.name)" }) == [
                    "ServiceAccount/hello-hello-world", "Service/hello-hello-world", "Deployment/hello-hello-world",
                ])
            // The same record stored by the ConfigMap driver (no Secret base64 layer) decodes too.
            let inner = try #require(Data(base64Encoded: storage["data"]!["release"]!.stringValue!))
            var configMap = KubeObject(apiVersion: "v1", kind: "ConfigMap", namespace: "default", name: storage.name)
            configMap["data"] = ["release": .string(String(decoding: inner, as: UTF8.self))]
            #expect(try HelmRelease(storageObject: configMap).manifest == release.manifest)
        }
    }

    @Test func configMapDriverReleases() async throws {
        try await withKubeTestCluster { cluster in
            let helm = try ExternalTool.helm.requiredPath()
            let environment = [
                "KUBECONFIG": "\(cluster.directory)/kubeconfig", "HOME": cluster.directory, "HELM_DRIVER": "configmap",
                "HELM_CACHE_HOME": "\(cluster.directory)/cache", "HELM_CONFIG_HOME": "\(cluster.directory)/config",
                "HELM_DATA_HOME": "\(cluster.directory)/data",
            ]
            let (status, output) = try await ExternalTool.helm.run(
                ["install", "cm", Self.helloChart, "-n", "default"], environment: environment, path: helm)
            #expect(status == 0, "\(output)")
            let result = try await cluster.discover(.helmRelease(name: "cm"), namespace: "default")
            #expect(
                result.references == [
                    "ConfigMap default/sh.helm.release.v1.cm.v1", "Service default/cm-hello-world", "ServiceAccount default/cm-hello-world",
                    "Deployment.apps default/cm-hello-world",
                ])
        }
    }

    @Test func statefulSetChartCapturesItsClaimsAndStorage() async throws {
        try await withKubeTestCluster { cluster in
            try await cluster.server.load(yaml: "apiVersion: v1\nkind: Namespace\nmetadata: {name: data}")
            _ = try await cluster.helm(["install", "db", Self.dbChart, "-n", "data"])
            try await cluster.load("scenarios/statefulset-storage.yaml")
            try await addStatefulSetRuntime(cluster)
            let result = try await cluster.discover(.helmRelease(name: "db"), namespace: "data")
            let manifest = "in the manifest of Helm release db (revision 1)"
            let sts = "StatefulSet.apps data/db-db"
            #expect(
                result.summary == [
                    "ConfigMap data/db-db-config <- \(manifest)",
                    "PersistentVolume local-pv-0 <- PersistentVolume bound to PersistentVolumeClaim data/data-db-db-0",
                    "PersistentVolume local-pv-1 <- PersistentVolume bound to PersistentVolumeClaim data/data-db-db-1",
                    "PersistentVolume local-pv-2 <- PersistentVolume bound to PersistentVolumeClaim data/data-db-db-2",
                    "PersistentVolumeClaim data/data-db-db-0 <- claim of volumeClaimTemplate data of \(sts), ordinal 0",
                    "PersistentVolumeClaim data/data-db-db-1 <- claim of volumeClaimTemplate data of \(sts), ordinal 1",
                    "PersistentVolumeClaim data/data-db-db-2 <- claim of volumeClaimTemplate data of \(sts), ordinal 2",
                    "Secret data/sh.helm.release.v1.db.v1 <- storage of Helm release db revision 1",
                    "Service data/db-db <- \(manifest)",
                    "ServiceAccount data/db-db <- \(manifest); service account of \(sts)",
                    "ControllerRevision.apps data/db-db-7d9f8c6b5 <- owned by \(sts)",
                    "\(sts) <- \(manifest)",
                    "Role.rbac.authorization.k8s.io data/db-db <- \(manifest); "
                        + "role referenced by RoleBinding.rbac.authorization.k8s.io data/db-db",
                    "RoleBinding.rbac.authorization.k8s.io data/db-db <- binds ServiceAccount data/db-db; \(manifest)",
                    "StorageClass.storage.k8s.io local-storage <- "
                        + "StorageClass of PersistentVolume local-pv-0; "
                        + "StorageClass of PersistentVolume local-pv-1; "
                        + "StorageClass of PersistentVolume local-pv-2; "
                        + "StorageClass of PersistentVolumeClaim data/data-db-db-0; "
                        + "StorageClass of PersistentVolumeClaim data/data-db-db-1; "
                        + "StorageClass of PersistentVolumeClaim data/data-db-db-2",
                ])
            #expect(
                result.dropped.map { "\($0.reference): \($0.why)" } == [
                    "Pod data/db-db-0: created by its controller StatefulSet db-db",
                    "Pod data/db-db-1: created by its controller StatefulSet db-db",
                ])
            #expect(result.issues.isEmpty, "\(result.issues)")
            #expect(result.volumes.count == 3)
            let zero = result.volumes[0]
            #expect(zero.claim.name == "data-db-db-0" && zero.volumeName == "local-pv-0")
            #expect(zero.sizeBytes == 2 << 30 && zero.sizeText == "2Gi" && zero.mode == .filesystem && zero.storageClass == "local-storage")
            #expect(zero.nodes == ["node-a"] && zero.csiDriver == nil && zero.snapshotClass == nil)
            #expect(zero.hostPaths == [.init(node: "node-a", path: "/mnt/disks/vol0", kind: .localVolume)])
            #expect(zero.readMethod == .hostPath(node: "node-a", path: "/mnt/disks/vol0"))
            #expect(zero.usedBy.map(\.description) == ["Pod data/db-db-0"])
            let one = result.volumes[1]
            #expect(one.mode == .block && one.nodes == ["node-b"])
            #expect(one.hostPaths == [.init(node: "node-b", path: "/dev/disk/by-id/nvme-ferry-1", kind: .localVolume)])
            // The scaled-away ordinal has no pod: its node comes from the volume's affinity.
            #expect(result.volumes[2].usedBy.isEmpty && result.volumes[2].nodes == ["node-a"])
        }
    }

    /// What the StatefulSet controller would add: pods for ordinals 0 and 1 and a revision.
    func addStatefulSetRuntime(_ cluster: KubeTestCluster) async throws {
        let statefulSets = try await cluster.client.resource(apiVersion: "apps/v1", kind: "StatefulSet")
        let sts = try await cluster.client.get(statefulSets, namespace: "data", name: "db-db")
        let owner: JSONValue = [
            [
                "apiVersion": "apps/v1", "kind": "StatefulSet", "name": "db-db", "uid": .string(sts.uid!), "controller": true,
                "blockOwnerDeletion": true,
            ]
        ]
        var objects: [JSONValue] = [
            [
                "apiVersion": "apps/v1", "kind": "ControllerRevision", "revision": 1, "data": [:],
                "metadata": ["name": "db-db-7d9f8c6b5", "namespace": "data", "ownerReferences": owner],
            ]
        ]
        for (ordinal, node) in [(0, "node-a"), (1, "node-b")] {
            objects.append([
                "apiVersion": "v1", "kind": "Pod",
                "metadata": [
                    "name": .string("db-db-\(ordinal)"), "namespace": "data", "uid": .string("pod-uid-\(ordinal)"),
                    "ownerReferences": owner,
                ],
                "spec": [
                    "nodeName": .string(node), "serviceAccountName": "db-db",
                    "containers": [["name": "db", "image": "registry.example/kvdb:1.0"]],
                    "volumes": [["name": "data", "persistentVolumeClaim": ["claimName": .string("data-db-db-\(ordinal)")]]],
                ],
                "status": ["phase": "Running"],
            ])
        }
        try await cluster.server.load(objects)
    }

    @Test func malformedReleaseRecordsAreReportedNotFatal() async throws {
        try await withKubeTestCluster { cluster in
            func storage(_ revision: Int, _ payload: [UInt8], status: String = "superseded") -> JSONValue {
                let inner = Data(payload).base64EncodedString()
                return [
                    "apiVersion": "v1", "kind": "Secret", "type": "helm.sh/release.v1",
                    "metadata": [
                        "name": .string("sh.helm.release.v1.broken.v\(revision)"), "namespace": "default",
                        "labels": ["owner": "helm", "name": "broken", "status": .string(status), "version": .string(String(revision))],
                    ],
                    "data": ["release": .string(Data(inner.utf8).base64EncodedString())],
                ]
            }
            let notGzip = Array("this is not a release".utf8)
            let corruptGzip: [UInt8] = [0x1F, 0x8B, 0x08, 0x00, 0, 0, 0, 0, 0, 0x03, 0xFF, 0xFF, 0x00, 0x12]
            let bomb = try await gzip(zeros: 16 << 20)
            let noManifest = try await gzip(Array(#"{"name":"broken","version":4,"info":{"status":"deployed"}}"#.utf8))
            var notBase64 = storage(5, [])
            notBase64["data"] = ["release": .string(Data("%%% not base64 %%%".utf8).base64EncodedString())]
            try await cluster.server.load([
                storage(1, notGzip), storage(2, corruptGzip), storage(3, bomb), storage(4, noManifest, status: "deployed"), notBase64,
            ])
            let result = try await cluster.discover(.helmRelease(name: "broken"), scope: .namespace("default"), helmReleaseLimit: 8 << 20)
            // Every storage object is still captured, so helm keeps working after a restore.
            #expect(result.references == (1...5).map { "Secret default/sh.helm.release.v1.broken.v\($0)" })
            let messages = result.issues.map(\.description)
            #expect(messages.contains { $0.contains("broken.v1") && $0.contains("not JSON") })
            #expect(messages.contains { $0.contains("broken.v2") && $0.contains("cannot decompress") })
            #expect(messages.contains { $0.contains("broken.v3") && $0.contains("exceeds the 8388608-byte limit") })
            #expect(messages.contains { $0.contains("broken.v4") && $0.contains("no manifest") })
            #expect(messages.contains { $0.contains("broken.v5") && $0.contains("not base64") })
            #expect(messages.contains { $0.contains("no revision could be decoded") })
        }
    }

    @Test func forbiddenAndVanishedObjectsAreReported() async throws {
        try await withKubeTestCluster { cluster in
            _ = try await cluster.helm(["install", "hello", Self.helloChart, "-n", "default"])
            await cluster.server.deny(.init(verbs: ["get"], resource: "serviceaccounts", namespace: "default"))
            // The walk reads the manifest in helm's install order (ServiceAccount, Service,
            // Deployment). Strike when it reads the ServiceAccount: the Service vanishes before
            // the walk reaches it.
            await cluster.server.addHook(
                .init(times: 1, matching: { $0.method == "GET" && $0.path.hasSuffix("/serviceaccounts/hello-hello-world") }) { _, server in
                    await server.delete(apiVersion: "v1", kind: "Service", namespace: "default", name: "hello-hello-world")
                    return .proceed
                })
            let result = try await cluster.discover(.helmRelease(name: "hello"), namespace: "default")
            #expect(result.references == ["Secret default/sh.helm.release.v1.hello.v1", "Deployment.apps default/hello-hello-world"])
            #expect(
                result.issues.map(\.description).sorted() == [
                    #"forbidden: ServiceAccount default/hello-hello-world: serviceaccounts "hello-hello-world" is forbidden: "#
                        + #"User "system:admin" cannot get resource "serviceaccounts" in API group "" in the namespace "default""#,
                    #"missing: Service default/hello-hello-world: services "hello-hello-world" not found"#,
                ])
        }
    }

    @Test func namespacedPlanStaysInItsNamespace() async throws {
        try await withKubeTestCluster { cluster in
            let chart = "\(cluster.directory)/spread"
            try FileManager.default.createDirectory(atPath: "\(chart)/templates", withIntermediateDirectories: true)
            try "apiVersion: v2\nname: spread\nversion: 0.1.0\n".write(toFile: "\(chart)/Chart.yaml", atomically: true, encoding: .utf8)
            try """
            apiVersion: v1
            kind: ConfigMap
            metadata: {name: here}
            ---
            apiVersion: v1
            kind: ConfigMap
            metadata: {name: elsewhere, namespace: other}
            """.write(toFile: "\(chart)/templates/cm.yaml", atomically: true, encoding: .utf8)
            try await cluster.server.load(yaml: "apiVersion: v1\nkind: Namespace\nmetadata: {name: other}")
            _ = try await cluster.helm(["install", "spread", chart, "-n", "default"])
            let namespaced = try await cluster.discover(.helmRelease(name: "spread"), namespace: "default")
            #expect(namespaced.references == ["ConfigMap default/here", "Secret default/sh.helm.release.v1.spread.v1"])
            #expect(namespaced.issues.map(\.kind) == [.outOfScope])
            #expect(namespaced.issues.first?.subject == "ConfigMap other/elsewhere")
            let clusterWide = try await cluster.discover(.helmRelease(name: "spread"), scope: .cluster(namespaces: nil))
            #expect(
                clusterWide.references == [
                    "ConfigMap default/here", "ConfigMap other/elsewhere", "Secret default/sh.helm.release.v1.spread.v1",
                ])
            #expect(clusterWide.issues.isEmpty)
        }
    }
}

/// gzip data with the real gzip command, for building release payloads (run off the
/// cooperative pool: it waits for a child process).
func gzip(_ bytes: [UInt8]) async throws -> [UInt8] {
    let directory = try TemporaryDirectory("ferry-gzip")
    let file = directory.file("data")
    try Data(bytes).write(to: URL(fileURLWithPath: file))
    let result = try await ChildProcess.output(["gzip", "-n", file])
    guard result.succeeded else { throw ChildProcess.Failed(command: ["gzip", "-n", file], result: result) }
    return Array(try Data(contentsOf: URL(fileURLWithPath: file + ".gz")))
}

/// A gzip stream of `count` zero bytes (about 1 KB per MiB: a gzip bomb in miniature).
func gzip(zeros count: Int) async throws -> [UInt8] {
    try await gzip([UInt8](repeating: 0, count: count))
}
