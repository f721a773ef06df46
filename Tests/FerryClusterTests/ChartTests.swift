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
            _ = try await cluster.helm(["install", "ferry", Self.chart, "-n", "ferry"])
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
                    "--kubelet-root=/var/lib/kubelet", "--client-qps=50", "--client-burst=100", "--metrics-address=:9090",
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
            #expect(
                agentPod?["containers"]?[0]?["args"]
                    == ["agent", "--host-root=/host", "--heartbeat=10", "--client-qps=50", "--client-burst=100", "--metrics-address=:9090"])
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
            ])
            let backupOnly = await cluster.server.object(apiVersion: "apps/v1", kind: "DaemonSet", namespace: "ferry", name: "ferry-agent")
            #expect(
                backupOnly?["spec"]?["template"]?["spec"]?["containers"]?[0]?["args"] == [
                    "agent", "--host-root=/host", "--heartbeat=10", "--client-qps=50", "--client-burst=100", "--metrics-address=:9090",
                    "--max-units=3",
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
                    "virtualmachineinstances/freeze", "virtualmachineinstances/unfreeze", "events", "pods/exec",
                ],
                "without restores only Ferry's own resources, snapshot exposure, backup hooks (pods/exec) and Events are written")
        }
    }

    /// One object of each Ferry kind, with the values its printer columns show.
    static let ferryObjects = """
        apiVersion: ferry.dev/v1alpha1
        kind: Target
        metadata: {name: s3, namespace: shop}
        spec: {encryptionSecret: {name: repo}}
        status: {location: "s3://backups/shop", phase: Ready}
        ---
        apiVersion: ferry.dev/v1alpha1
        kind: BackupPlan
        metadata: {name: shop, namespace: shop}
        spec: {target: s3, schedule: "0 2 * * *", components: {helmReleases: [shop]}}
        status: {lastBackup: shop-1}
        ---
        apiVersion: ferry.dev/v1alpha1
        kind: ClusterBackupPlan
        metadata: {name: everything}
        spec: {target: s3, namespaces: [shop], components: {helmReleases: [shop]}}
        status: {lastBackup: everything-1}
        ---
        apiVersion: ferry.dev/v1alpha1
        kind: Backup
        metadata: {name: shop-1, namespace: shop}
        spec: {plan: shop}
        status: {phase: Completed, resources: 12, snapshot: 3f2a9c1e}
        ---
        apiVersion: ferry.dev/v1alpha1
        kind: Restore
        metadata: {name: shop-1, namespace: shop}
        spec: {backup: shop-1}
        status: {phase: Completed}
        ---
        apiVersion: ferry.dev/v1alpha1
        kind: VolumeTransfer
        metadata: {name: shop-1-data, namespace: shop}
        spec: {direction: Backup, owner: shop-1, target: s3, node: node-1, volume: shop/data, source: {path: /dev/loop0}}
        status: {phase: Running, bytesDone: 1048576}
        """

    /// The cells of a `kubectl get` table, by column title, cut at the header's column offsets.
    static func rows(_ output: String) -> [[String: String]] {
        let lines = output.split(separator: "\n").map(String.init).filter { !$0.hasPrefix("Warning") }
        guard let header = lines.first.map(Array.init) else { return [] }
        // Titles (CLUSTER PLAN holds a space) are separated by two spaces or more.
        var starts: [(String, Int)] = []
        var index = 0
        while index < header.count {
            while index < header.count, header[index] == " " { index += 1 }
            guard index < header.count else { break }
            let start = index
            while index < header.count, !(header[index] == " " && (index + 1 == header.count || header[index + 1] == " ")) { index += 1 }
            starts.append((String(header[start..<index]), start))
        }
        return lines.dropFirst().map { line in
            let characters = Array(line)
            var row: [String: String] = [:]
            for (position, (title, start)) in starts.enumerated() {
                let end = position + 1 < starts.count ? starts[position + 1].1 : characters.count
                row[title] =
                    start < characters.count
                    ? String(characters[start..<min(end, characters.count)]).trimmingCharacters(in: .whitespaces) : ""
            }
            return row
        }
    }

    /// `kubectl get` (and `-o wide`) on every Ferry kind shows its CRD's printer columns with the
    /// object's values, and `kubectl apply` of a misspelt field is refused with the real message,
    /// with helm and kubectl at their default validation.
    @Test func kubectlShowsFerryKindsColumnsAndRefusesMisspeltFields() async throws {
        try await withKubeTestCluster { cluster in
            _ = try await cluster.helm(["install", "ferry", Self.chart, "-n", "ferry", "--create-namespace"])
            _ = try await cluster.helm(["upgrade", "ferry", Self.chart, "-n", "ferry", "--set", "agent.maxUnits=3"])
            _ = try await cluster.helm(["rollback", "ferry", "1", "-n", "ferry"])
            let history = try await cluster.helm(["history", "ferry", "-n", "ferry"])
            #expect(history.contains("Rollback to 1"), "\(history)")
            try await cluster.server.load(yaml: "apiVersion: v1\nkind: Namespace\nmetadata: {name: shop}")
            let objects = try YAMLDocuments.parse(Self.ferryObjects)
            try await cluster.server.load(objects)

            let crdDirectory = CoordinatorTests.chartCRDs
            let files = try FileManager.default.contentsOfDirectory(atPath: crdDirectory.path).sorted()
            #expect(files.count == 6)
            for file in files {
                let crd = try YAMLDocuments.parseSingle(try String(contentsOf: crdDirectory.appendingPathComponent(file), encoding: .utf8))
                let kind = crd["spec"]?["names"]?["kind"]?.stringValue ?? ""
                let plural = crd["spec"]?["names"]?["plural"]?.stringValue ?? ""
                let columns = crd["spec"]?["versions"]?[0]?["additionalPrinterColumns"]?.arrayValue ?? []
                let object = try #require(objects.first { $0["kind"]?.stringValue == kind }, "no \(kind) object")
                let scope = crd["spec"]?["scope"] == "Namespaced" ? ["-n", "shop"] : []
                for wide in [false, true] {
                    let (status, output) = try await cluster.kubectl(["get", plural] + scope + (wide ? ["-o", "wide"] : []))
                    #expect(status == 0, "\(output)")
                    let shown = columns.filter { wide || ($0["priority"]?.intValue ?? 0) == 0 }
                    let header = output.split(separator: "\n").first.map(String.init) ?? ""
                    #expect(
                        header.split(separator: " ", omittingEmptySubsequences: true).joined(separator: " ")
                            == (["NAME"] + shown.map { ($0["name"]?.stringValue ?? "").uppercased() }).joined(separator: " "),
                        "\(kind): \(output)")
                    let row = try #require(Self.rows(output).first, "\(kind): \(output)")
                    #expect(row["NAME"] == object["metadata"]?["name"]?.stringValue)
                    for column in shown {
                        let title = (column["name"]?.stringValue ?? "").uppercased()
                        let path = (column["jsonPath"]?.stringValue ?? "").split(separator: ".").map(String.init)
                        if column["type"] == "date" {
                            #expect(row[title]?.last.map { "smhdy".contains($0) } == true, "\(kind) \(title): \(row)")
                            continue
                        }
                        let value = object.value(at: path)
                        let expected = value.map { $0.stringValue ?? String(decoding: $0.serialized(), as: UTF8.self) } ?? ""
                        #expect(row[title] == expected, "\(kind) \(title): \(row)")
                    }
                }
            }

            let misspelt = "\(cluster.directory)/plan.yaml"
            try """
            apiVersion: ferry.dev/v1alpha1
            kind: BackupPlan
            metadata: {name: web, namespace: shop}
            spec:
              target: s3
              components:
                namespace: shop
            """.write(toFile: misspelt, atomically: true, encoding: .utf8)
            let (status, output) = try await cluster.kubectl(["apply", "-f", misspelt])
            #expect(status == 1)
            #expect(
                output.contains(
                    #"Error from server (BadRequest): error when creating "\#(misspelt)""#
                        + #": BackupPlan in version "v1alpha1" cannot be handled as a BackupPlan"#
                        + #": strict decoding error: unknown field "spec.components.namespace""#
                ),
                "\(output)")
            #expect(
                await cluster.server.object(apiVersion: "ferry.dev/v1alpha1", kind: "BackupPlan", namespace: "shop", name: "web") == nil)
        }
    }
}
