import FerryKube
import FerryKubeTestServer
import FerryKubeTestSupport
import Foundation
import Testing

/// The chart's life on a cluster with the real helm, as a user lives it: values checked against
/// values.schema.json, install, upgrade with changed values, uninstall (CRDs and Ferry's own
/// resources stay, as the README says).
@Suite(.serialized, .timeLimit(.minutes(10))) struct ChartLifecycleTests {
    static let chart = ChartTests.chart

    /// The installed chart's objects in namespace ferry, by kind and name.
    func workload(_ cluster: KubeTestCluster, _ kind: String, _ name: String) async -> KubeObject? {
        await cluster.server.object(apiVersion: "apps/v1", kind: kind, namespace: "ferry", name: name)
    }

    /// helm's own error for each value that is misspelt or of the wrong type, and nothing installed.
    @Test(arguments: [
        (["--set", "imagee.tag=0.2.0"], "additional properties 'imagee' not allowed"),
        (["--set", "agent.maxUnit=2"], "additional properties 'maxUnit' not allowed"),
        (["--set", "agent.maxUnits=three"], "at '/agent/maxUnits': got string, want integer"),
        (["--set", "agent.privileged=yes"], "at '/agent/privileged': got string, want boolean"),
        (["--set", "metrics.port=90000"], "at '/metrics/port'"),
        (["--set", "image.pullPolicy=Sometimes"], "at '/image/pullPolicy'"),
        (["--set", "coordinator.resources.limits.memory=lots"], "at '/coordinator/resources/limits/memory'"),
        (["--set", "pathTargets={relative/dir}"], "at '/pathTargets/0'"),
        (["--set", "agent.kubeAPI.qps=0"], "at '/agent/kubeAPI/qps'"),
    ])
    func helmRefusesMisspeltOrMistypedValues(_ values: [String], _ message: String) async throws {
        try await withKubeTestCluster { cluster in
            try await cluster.server.load(yaml: "apiVersion: v1\nkind: Namespace\nmetadata: {name: ferry}")
            do {
                _ = try await cluster.helm(["install", "ferry", Self.chart, "-n", "ferry", "--disable-openapi-validation"] + values)
                Issue.record("helm installed the chart with \(values)")
            } catch let failed as KubeTestCluster.HelmFailed {
                #expect("\(failed)".contains("values don't meet the specifications of the schema"), "\(failed)")
                #expect("\(failed)".contains(message), "\(failed)")
            }
            #expect(await workload(cluster, "Deployment", "ferry-coordinator") == nil, "nothing is installed")
        }
    }

    @Test func installsUpgradesAndUninstallsKeepingCRDsAndFerrysResources() async throws {
        try await withKubeTestCluster { cluster in
            try await cluster.server.load(yaml: "apiVersion: v1\nkind: Namespace\nmetadata: {name: ferry}")
            _ = try await cluster.helm(["install", "ferry", Self.chart, "-n", "ferry", "--disable-openapi-validation"])
            let coordinator = try #require(await workload(cluster, "Deployment", "ferry-coordinator"))
            let container = coordinator["spec"]?["template"]?["spec"]?["containers"]?[0]
            #expect(
                container?["image"]?.stringValue == "ghcr.io/ferry-backup/ferry:\(Podman.appVersion)",
                "the image's tag defaults to appVersion")
            let agent = try #require(await workload(cluster, "DaemonSet", "ferry-agent"))
            #expect(agent["spec"]?["template"]?["spec"]?["containers"]?[0]?["resources"]?["limits"]?["memory"] == "2Gi")

            // Ferry's own resources, made by a user after the install.
            try await cluster.server.load(
                yaml: """
                    apiVersion: v1
                    kind: Namespace
                    metadata: {name: shop}
                    ---
                    apiVersion: ferry.dev/v1alpha1
                    kind: Target
                    metadata: {name: nfs, namespace: shop}
                    spec: {path: /srv/backups/shop, encryptionSecret: {name: ferry-repository}}
                    ---
                    apiVersion: ferry.dev/v1alpha1
                    kind: BackupPlan
                    metadata: {name: shop, namespace: shop}
                    spec: {target: nfs, components: {helmReleases: [shop]}}
                    """)

            // An upgrade with changed values changes the workloads in place.
            _ = try await cluster.helm([
                "upgrade", "ferry", Self.chart, "-n", "ferry", "--disable-openapi-validation",
                "--set",
                "image.repository=registry.example.com/ferry,image.tag=0.1.0-test,coordinator.leaseDurationSeconds=30,"
                    + "coordinator.kubeAPI.qps=200",
                "--set", "agent.resources.limits.memory=4Gi,agent.maxUnits=2,metrics.enabled=false",
            ])
            let upgraded = try #require(await workload(cluster, "Deployment", "ferry-coordinator"))
            let upgradedContainer = upgraded["spec"]?["template"]?["spec"]?["containers"]?[0]
            #expect(upgradedContainer?["image"] == "registry.example.com/ferry:0.1.0-test")
            let exposer = "--exposer-image=registry.example.com/ferry:0.1.0-test"
            #expect(
                upgradedContainer?["args"] == [
                    "coordinator", "--lease-duration=30", .string(exposer), "--kubelet-root=/var/lib/kubelet", "--client-qps=200",
                    "--client-burst=100",
                ])
            #expect(upgraded.uid == coordinator.uid, "the same Deployment, updated")
            let upgradedAgent = try #require(await workload(cluster, "DaemonSet", "ferry-agent"))
            let agentContainer = upgradedAgent["spec"]?["template"]?["spec"]?["containers"]?[0]
            #expect(agentContainer?["resources"]?["limits"]?["memory"] == "4Gi")
            #expect(
                agentContainer?["args"] == [
                    "agent", "--host-root=/host", "--heartbeat=10", "--client-qps=50", "--client-burst=100", "--max-units=2",
                ])
            #expect(agentContainer?["image"] == "registry.example.com/ferry:0.1.0-test")
            let history = try await cluster.helm(["history", "ferry", "-n", "ferry", "-o", "json"])
            let revisions = try JSONValue(parsing: history).arrayValue ?? []
            #expect(revisions.map { $0["revision"]?.intValue } == [1, 2] && revisions.last?["status"] == "deployed", "\(history)")

            // Uninstalled: the workloads and their RBAC go; the CRDs, Targets and plans stay.
            _ = try await cluster.helm(["uninstall", "ferry", "-n", "ferry"])
            #expect(await workload(cluster, "Deployment", "ferry-coordinator") == nil)
            #expect(await workload(cluster, "DaemonSet", "ferry-agent") == nil)
            let server = cluster.server
            #expect(await server.object(apiVersion: "rbac.authorization.k8s.io/v1", kind: "ClusterRole", name: "ferry-coordinator") == nil)
            #expect(await server.object(apiVersion: "v1", kind: "ServiceAccount", namespace: "ferry", name: "ferry-coordinator") == nil)
            let crds = await cluster.server.objects(apiVersion: "apiextensions.k8s.io/v1", kind: "CustomResourceDefinition")
            #expect(crds.filter { $0.name.hasSuffix(".ferry.dev") }.count == 6, "\(crds.map(\.name))")
            #expect(await server.object(apiVersion: "ferry.dev/v1alpha1", kind: "Target", namespace: "shop", name: "nfs") != nil)
            #expect(await server.object(apiVersion: "ferry.dev/v1alpha1", kind: "BackupPlan", namespace: "shop", name: "shop") != nil)

            // Installed again over the kept CRDs, as after an uninstall by mistake.
            _ = try await cluster.helm(["install", "ferry", Self.chart, "-n", "ferry", "--disable-openapi-validation"])
            #expect(await workload(cluster, "Deployment", "ferry-coordinator") != nil)
        }
    }
}
