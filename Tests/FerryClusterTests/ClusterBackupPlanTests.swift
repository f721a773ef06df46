import FerryBlob
import FerryKube
import FerryKubeTestServer
import FerryKubeTestSupport
import FerryRepo
import FerryTestSupport
import Foundation
import Synchronization
import Testing

extension CoordinatorTests {
    /// A ClusterBackupPlan backs up the namespaces its selector picks (and the cluster-scoped
    /// objects they use) from a Backup in Ferry's own namespace; a Restore there puts everything
    /// back where it was. Neither may be started from any other namespace.
    @Test func aClusterPlanBacksUpSelectedNamespacesAndRestoresThemWhereTheyWere() async throws {
        try await withKubeTestCluster { cluster in
            let setup = try await Setup.make(cluster)
            try await setup.target(in: "ferry")
            try await cluster.server.load(
                yaml: """
                    apiVersion: v1
                    kind: Namespace
                    metadata: {name: shop, labels: {team: a, pod-security.kubernetes.io/enforce: restricted}}
                    ---
                    apiVersion: v1
                    kind: Namespace
                    metadata: {name: crm, labels: {team: a, pod-security.kubernetes.io/enforce: restricted}}
                    ---
                    apiVersion: v1
                    kind: Namespace
                    metadata: {name: other, labels: {team: b, pod-security.kubernetes.io/enforce: restricted}}
                    ---
                    apiVersion: v1
                    kind: ConfigMap
                    metadata: {name: prices, namespace: shop}
                    data: {apple: "3"}
                    ---
                    apiVersion: v1
                    kind: ServiceAccount
                    metadata: {name: reporter, namespace: shop}
                    ---
                    apiVersion: rbac.authorization.k8s.io/v1
                    kind: ClusterRole
                    metadata: {name: node-reader}
                    rules: [{apiGroups: [""], resources: [nodes], verbs: [get, list]}]
                    ---
                    apiVersion: rbac.authorization.k8s.io/v1
                    kind: ClusterRoleBinding
                    metadata: {name: reporter-reads-nodes}
                    roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: node-reader}
                    subjects: [{kind: ServiceAccount, name: reporter, namespace: shop}]
                    ---
                    apiVersion: v1
                    kind: ConfigMap
                    metadata: {name: contacts, namespace: crm}
                    data: {alice: "555"}
                    ---
                    apiVersion: v1
                    kind: ConfigMap
                    metadata: {name: unrelated, namespace: other}
                    data: {x: "1"}
                    ---
                    apiVersion: ferry.dev/v1alpha1
                    kind: ClusterBackupPlan
                    metadata: {name: team-a}
                    spec:
                      target: local
                      namespaceSelector: {matchLabels: {team: a}}
                      components: {wholeNamespace: true}
                    ---
                    apiVersion: ferry.dev/v1alpha1
                    kind: Backup
                    metadata: {name: team-a-1, namespace: ferry}
                    spec: {clusterPlan: team-a}
                    ---
                    apiVersion: ferry.dev/v1alpha1
                    kind: Backup
                    metadata: {name: sneaky, namespace: shop}
                    spec: {clusterPlan: team-a}
                    """)
            let coordinator = try setup.coordinator(identity: "alpha")
            defer { coordinator.kill() }

            let backup = try await setup.finished("Backup", namespace: "ferry", name: "team-a-1")
            #expect(backup["status"]?["phase"] == "Completed", "\(backup.json.serializedString())")
            let sneaky = try await setup.finished("Backup", namespace: "shop", name: "sneaky")
            #expect(sneaky["status"]?["phase"] == "Failed")
            #expect(
                sneaky["status"]?["errors"]?[0]?.stringValue?.contains("must be in namespace ferry") == true,
                "\(sneaky.json.serializedString())")
            let plan = await cluster.server.object(apiVersion: "ferry.dev/v1alpha1", kind: "ClusterBackupPlan", name: "team-a")
            #expect(plan?["status"]?["lastBackup"] == "ferry/team-a-1")

            let listing = try JSONValue(
                parsing: try await FerryProcess(password: "coordinator-test-password").run([
                    "snapshots", "--repo", setup.repository, "--json",
                ]).stdout)
            #expect(listing[0]?["name"] == "cluster-plan:team-a" && listing[0]?["tags"]?["clusterPlan"] == "team-a")
            let repository = try await Repository.open(
                store: try LocalDirectoryStore(root: setup.repository), password: Array("coordinator-test-password".utf8))
            let resources = try #require(try await repository.snapshot(matching: "latest").manifest.resources)
            let captured = try await repository.resourceEntries(resources).map { "\($0.kind) \($0.namespace ?? "-")/\($0.name)" }
            #expect(captured.contains("ConfigMap shop/prices") && captured.contains("ConfigMap crm/contacts"), "\(captured)")
            #expect(
                captured.contains("ClusterRoleBinding -/reporter-reads-nodes") && captured.contains("ClusterRole -/node-reader"),
                "\(captured)")
            #expect(!captured.contains { $0.contains("other/") }, "namespace other is not selected")

            // Lost in both namespaces and cluster-wide; restored where they were.
            await cluster.server.delete(apiVersion: "v1", kind: "ConfigMap", namespace: "shop", name: "prices")
            await cluster.server.delete(apiVersion: "v1", kind: "ConfigMap", namespace: "crm", name: "contacts")
            await cluster.server.delete(
                apiVersion: "rbac.authorization.k8s.io/v1", kind: "ClusterRoleBinding", name: "reporter-reads-nodes")
            try await cluster.server.load(
                yaml: """
                    apiVersion: ferry.dev/v1alpha1
                    kind: Restore
                    metadata: {name: back, namespace: ferry}
                    spec: {backup: team-a-1}
                    ---
                    apiVersion: ferry.dev/v1alpha1
                    kind: Restore
                    metadata: {name: sneaky, namespace: shop}
                    spec: {target: local, snapshot: latest, clusterWide: true}
                    """)
            let restore = try await setup.finished("Restore", namespace: "ferry", name: "back")
            #expect(restore["status"]?["phase"] == "Completed" && restore["status"]?["created"] == 3, "\(restore.json.serializedString())")
            #expect(await cluster.server.object(apiVersion: "v1", kind: "ConfigMap", namespace: "shop", name: "prices") != nil)
            #expect(await cluster.server.object(apiVersion: "v1", kind: "ConfigMap", namespace: "crm", name: "contacts") != nil)
            #expect(
                await cluster.server.object(
                    apiVersion: "rbac.authorization.k8s.io/v1", kind: "ClusterRoleBinding", name: "reporter-reads-nodes") != nil)
            #expect(
                await cluster.server.objects(apiVersion: "v1", kind: "ConfigMap", namespace: "ferry").filter { $0.name == "prices" }.isEmpty
            )
            let refused = try await setup.finished("Restore", namespace: "shop", name: "sneaky")
            #expect(
                refused["status"]?["phase"] == "Failed"
                    && refused["status"]?["errors"]?[0]?.stringValue?.contains("must be in namespace ferry") == true,
                "\(refused.json.serializedString())")

            // The same from the command line.
            let kubeconfig = ["--kubeconfig", "\(cluster.directory)/kubeconfig"]
            let again = try await FerryProcess(password: nil).run(
                ["cluster", "backup", "team-a", "--cluster-plan", "-n", "ferry", "--name", "team-a-2", "--wait"] + kubeconfig)
            #expect(again.succeeded && again.stderr.contains("Completed"), "\(again)")
        }
    }
}

extension AgentTests {
    /// A cluster plan's CSI volume is exposed in its own namespace, under names of the cluster
    /// Backup's that no namespaced Backup can take, and a cluster-wide Restore writes it back there.
    @Test func aClusterPlansVolumeIsExposedAndRestoredInItsOwnNamespace() async throws {
        try await withKubeTestCluster { cluster in
            let setup = try await CoordinatorTests.Setup.make(cluster)
            let live = "\(cluster.directory)/csi-h1.img"
            let original = try writeDevice(live, seed: 101)
            let hostRoot = "\(cluster.directory)/host"
            try await installCSIVolume(setup)
            try await setup.target(in: "ferry")
            try await cluster.server.load(
                yaml: """
                    apiVersion: ferry.dev/v1alpha1
                    kind: ClusterBackupPlan
                    metadata: {name: everything-db}
                    spec: {target: local, namespaces: [db], components: {labelSelector: {matchLabels: {app: db}}}}
                    """)
            let exposures = Mutex<[String]>([])
            let run = try runCSI(setup, live: live, hostRoot: hostRoot) { name, _, _ in exposures.withLock { $0.append(name) } }
            defer { run.stop() }

            try await cluster.server.load(
                yaml: """
                    apiVersion: ferry.dev/v1alpha1
                    kind: Backup
                    metadata: {name: db-1, namespace: ferry}
                    spec: {clusterPlan: everything-db}
                    """)
            let backup = try await setup.finished("Backup", namespace: "ferry", name: "db-1")
            #expect(backup["status"]?["phase"] == "Completed", "\(backup.json.serializedString())")
            #expect(exposures.withLock { $0 } == ["ferryc-db-1-0"], "snapshotted in db under the cluster Backup's names")
            let unit = try #require(
                await cluster.server.object(apiVersion: "ferry.dev/v1alpha1", kind: "VolumeTransfer", namespace: "ferry", name: "db-1-0"))
            #expect(unit["spec"]?["volume"] == "db/data" && unit["status"]?["phase"] == "Succeeded")

            await cluster.server.delete(apiVersion: "v1", kind: "PersistentVolumeClaim", namespace: "db", name: "data")
            try await cluster.server.load(
                yaml: "apiVersion: ferry.dev/v1alpha1\nkind: Restore\nmetadata: {name: back, namespace: ferry}\nspec: {backup: db-1}")
            let restore = try await setup.finished("Restore", namespace: "ferry", name: "back")
            #expect(
                restore["status"]?["phase"] == "Completed" && restore["status"]?["volumesRestored"] == ["db/data"],
                "\(restore.json.serializedString())")
            let volume = try await csiVolumeFile(cluster, claim: "data", live: live)
            #expect(try Data(contentsOf: URL(fileURLWithPath: volume)) == original)
            #expect(
                await cluster.server.objects(apiVersion: "v1", kind: "Pod", namespace: "db").filter { $0.name.hasPrefix("ferry") }.isEmpty)
            #expect(await cluster.server.objects(apiVersion: "v1", kind: "PersistentVolumeClaim", namespace: "db").map(\.name) == ["data"])
        }
    }
}
