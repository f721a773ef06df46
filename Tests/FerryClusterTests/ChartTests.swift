import FerryKube
import FerryKubeTestServer
import FerryKubeTestSupport
import Foundation
import Testing

/// The Helm chart in charts/ferry, checked with the real helm: lint, schema validation of what
/// it renders (kubernetes-validate), and an install into the test API server.
@Suite(.serialized) struct ChartTests {
    static let chart = CoordinatorTests.chartCRDs.deletingLastPathComponent().path

    func helm(_ arguments: [String]) async throws -> String {
        let path = try ExternalTool.helm.requiredPath()
        let (status, output) = try await ExternalTool.helm.run(arguments, path: path)
        #expect(status == 0, "helm \(arguments.joined(separator: " ")): \(output)")
        return output
    }

    @Test(arguments: [
        [String](),
        [
            "--set",
            "rbac.restore=false,coordinator.watchNamespace=apps,coordinator.replicas=2,agent.privileged=false,agent.hostPaths={/mnt/disks}",
        ],
    ])
    func lintsAndRendersValidManifests(_ values: [String]) async throws {
        _ = try await helm(["lint", "--strict", Self.chart] + values)
        let rendered = try await helm(["template", "ferry", Self.chart, "-n", "ferry", "--include-crds"] + values)
        let validator = try ExternalTool.kubernetesValidate.requiredPath()
        let file = NSTemporaryDirectory() + "ferry-chart-\(UUID().uuidString).yaml"
        try rendered.write(toFile: file, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: file) }
        let (status, output) = try await ExternalTool.kubernetesValidate.run(["--strict", file], path: validator)
        #expect(status == 0, "\(output)")
        let kinds = try YAMLDocuments.parse(rendered).compactMap { $0["kind"]?.stringValue }
        #expect(kinds.filter { $0 == "CustomResourceDefinition" }.count == 6)
        #expect(
            Set(kinds).isSuperset(of: [
                "ServiceAccount", "ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding", "Deployment", "DaemonSet",
            ]))
    }

    /// Installed by helm into the API test server: the CRDs are served, the coordinator runs as
    /// a non-root Deployment, and its RBAC never deletes; without restores it only reads.
    @Test func installsIntoAClusterWithLeastPrivilege() async throws {
        try await withKubeTestCluster { cluster in
            try await cluster.server.load(yaml: "apiVersion: v1\nkind: Namespace\nmetadata: {name: ferry}")
            _ = try await cluster.helm(["install", "ferry", Self.chart, "-n", "ferry", "--disable-openapi-validation"])
            let catalog = try await cluster.client.resourceCatalog(refresh: true)
            for kind in ["Target", "BackupPlan", "ClusterBackupPlan", "Backup", "Restore", "VolumeTransfer"] {
                #expect(catalog.resource(for: GroupKind(group: "ferry.dev", kind: kind))?.hasStatus == true, "\(kind) is not served")
            }
            let deployment = try #require(
                await cluster.server.object(apiVersion: "apps/v1", kind: "Deployment", namespace: "ferry", name: "ferry-coordinator"))
            let pod = deployment["spec"]?["template"]?["spec"]
            #expect(
                pod?["containers"]?[0]?["args"] == [
                    "coordinator", "--lease-duration=15", "--exposer-image=ghcr.io/ferry-backup/ferry:0.1.0",
                    "--kubelet-root=/var/lib/kubelet", "--metrics-address=:9090",
                ])
            #expect(deployment["spec"]?["template"]?["metadata"]?["annotations"]?["prometheus.io/port"] == "9090")
            #expect(pod?["containers"]?[0]?["ports"]?[0]?["containerPort"] == 9090)
            #expect(pod?["securityContext"]?["runAsNonRoot"] == true && pod?["serviceAccountName"] == "ferry-coordinator")
            #expect(pod?["containers"]?[0]?["securityContext"]?["readOnlyRootFilesystem"] == true)

            func verbs(_ role: KubeObject?) -> Set<String> {
                Set((role?["rules"]?.arrayValue ?? []).flatMap { ($0["verbs"]?.arrayValue ?? []).compactMap(\.stringValue) })
            }
            /// Rules that write on every group or every resource (which would include pods/exec
            /// and serviceaccounts/token): there must be none.
            func wildcardWrites(_ role: KubeObject?) -> [JSONValue] {
                (role?["rules"]?.arrayValue ?? []).filter { rule in
                    let strings = { (key: String) in Set((rule[key]?.arrayValue ?? []).compactMap(\.stringValue)) }
                    let writes = !strings("verbs").isSubset(of: ["get", "list", "watch"])
                    return writes && (strings("apiGroups").contains("*") || strings("resources").contains("*"))
                }
            }
            let role = await cluster.server.object(
                apiVersion: "rbac.authorization.k8s.io/v1", kind: "ClusterRole", name: "ferry-coordinator")
            #expect(verbs(role) == ["get", "list", "watch", "create", "patch", "update", "bind", "escalate", "delete"])
            #expect(wildcardWrites(role).isEmpty, "\(wildcardWrites(role))")
            // Deleting is only for the objects that expose CSI snapshots, and the units of a
            // Backup or Restore deleted before it ended.
            let deletes = (role?["rules"]?.arrayValue ?? []).filter { ($0["verbs"]?.arrayValue ?? []).contains("delete") }
            #expect(
                Set(deletes.flatMap { ($0["resources"]?.arrayValue ?? []).compactMap(\.stringValue) })
                    == ["volumesnapshots", "persistentvolumeclaims", "pods", "volumetransfers"])
            let lease = await cluster.server.object(
                apiVersion: "rbac.authorization.k8s.io/v1", kind: "Role", namespace: "ferry", name: "ferry-leader-election")
            #expect(lease?["rules"]?[0]?["resources"] == ["leases"])

            // The agent: root for the devices, host mounts (writable for restores), and only its units' status to write.
            let agent = try #require(
                await cluster.server.object(apiVersion: "apps/v1", kind: "DaemonSet", namespace: "ferry", name: "ferry-agent"))
            let agentPod = agent["spec"]?["template"]?["spec"]
            #expect(agentPod?["containers"]?[0]?["args"] == ["agent", "--host-root=/host", "--heartbeat=10", "--metrics-address=:9090"])
            func hostMountsReadOnly(_ pod: JSONValue?) -> [Bool] {
                (pod?["containers"]?[0]?["volumeMounts"]?.arrayValue ?? []).filter { $0["name"] == "dev" || $0["name"] == "kubelet" }
                    .map { $0["readOnly"]?.boolValue ?? false }
            }
            #expect(hostMountsReadOnly(agentPod) == [false, false])
            #expect(agentPod?["containers"]?[0]?["securityContext"]?["privileged"] == true, "block devices need it")
            let agentRole = await cluster.server.object(
                apiVersion: "rbac.authorization.k8s.io/v1", kind: "ClusterRole", name: "ferry-agent")
            #expect(verbs(agentRole) == ["get", "list", "watch", "update", "patch"])
            let agentWrites = (agentRole?["rules"]?.arrayValue ?? []).filter { ($0["verbs"]?.arrayValue ?? []).contains("update") }
            #expect(agentWrites.count == 1 && agentWrites[0]["resources"] == ["volumetransfers/status"])
            // Tokens of its own ServiceAccount only, for CSI SnapshotMetadata services.
            let tokenRole = await cluster.server.object(
                apiVersion: "rbac.authorization.k8s.io/v1", kind: "Role", namespace: "ferry", name: "ferry-agent-token")
            #expect(
                tokenRole?["rules"] == [
                    ["apiGroups": [""], "resources": ["serviceaccounts/token"], "resourceNames": ["ferry-agent"], "verbs": ["create"]]
                ])
            let agentEnvironment = agentPod?["containers"]?[0]?["env"]?.arrayValue ?? []
            #expect(agentEnvironment.contains { $0["name"] == "FERRY_SERVICE_ACCOUNT" && $0["value"] == "ferry/ferry-agent" })
            #expect(await cluster.server.object(apiVersion: "v1", kind: "ServiceAccount", namespace: "ferry", name: "ferry-agent") != nil)

            _ = try await cluster.helm([
                "upgrade", "ferry", Self.chart, "-n", "ferry", "--set", "rbac.restore=false,agent.restore=false,agent.maxUnits=3",
                "--disable-openapi-validation",
            ])
            let backupOnly = await cluster.server.object(apiVersion: "apps/v1", kind: "DaemonSet", namespace: "ferry", name: "ferry-agent")
            #expect(
                backupOnly?["spec"]?["template"]?["spec"]?["containers"]?[0]?["args"] == [
                    "agent", "--host-root=/host", "--heartbeat=10", "--metrics-address=:9090", "--max-units=3",
                ])
            #expect(hostMountsReadOnly(backupOnly?["spec"]?["template"]?["spec"]) == [true, true])
            let readOnly = await cluster.server.object(
                apiVersion: "rbac.authorization.k8s.io/v1", kind: "ClusterRole", name: "ferry-coordinator")
            #expect(verbs(readOnly) == ["get", "list", "watch", "patch", "update", "create", "delete"])
            #expect(wildcardWrites(readOnly).isEmpty)
            let writes = (readOnly?["rules"]?.arrayValue ?? []).filter {
                !Set(($0["verbs"]?.arrayValue ?? []).compactMap(\.stringValue)).isSubset(of: ["get", "list", "watch"])
            }
            let written = Set(writes.flatMap { ($0["resources"]?.arrayValue ?? []).compactMap(\.stringValue) })
            // Scheduled Backups are created by the coordinator: without `create` on backups they
            // were refused (403) whenever rbac.restore=false.
            #expect(
                written == [
                    "backups/status", "restores/status", "backupplans/status", "clusterbackupplans/status", "targets/status",
                    "volumetransfers/status", "backups", "restores", "volumetransfers",
                    "volumesnapshots", "volumesnapshotcontents", "persistentvolumeclaims", "pods",
                    "virtualmachineinstances/freeze", "virtualmachineinstances/unfreeze",
                ],
                "without restores only Ferry's own resources and snapshot exposure are written")
        }
    }
}
