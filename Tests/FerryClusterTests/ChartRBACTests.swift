import FerryKube
import FerryKubeTestServer
import FerryKubeTestSupport
import Foundation
import Testing

/// What the chart's identities may do, asked of the API test server (which enforces RBAC as
/// kube-apiserver does) with the real `kubectl auth can-i --as=system:serviceaccount:...`
/// (a SelfSubjectAccessReview under impersonation): everything the coordinator and the agent
/// call (Sources/FerryCluster), and nothing more — no write on every kind, no Secret or token
/// beyond what is named, exec only for hooks.
@Suite(.serialized) struct ChartRBACTests {
    static let coordinator = "system:serviceaccount:ferry:ferry-coordinator"
    static let agent = "system:serviceaccount:ferry:ferry-agent"

    /// `kubectl auth can-i` arguments, and whether the identity may.
    typealias Check = (question: String, allowed: Bool)

    /// What the coordinator does whatever rbac.restore says.
    static let coordinatorAlways: [Check] = [
        // Discovery and capture read every kind, Secrets included.
        ("list secrets --all-namespaces", true), ("watch deployments.apps --all-namespaces", true), ("get secrets -n shop", true),
        ("list customresourcedefinitions.apiextensions.k8s.io", true), ("get snapshotmetadataservices.cbt.storage.k8s.io", true),
        ("list backups.ferry.dev --all-namespaces", true), ("watch restores.ferry.dev --all-namespaces", true),
        // Status of Ferry's resources (merge patches; the units' status by update).
        ("patch backups.ferry.dev --subresource=status -n shop", true), ("patch restores.ferry.dev --subresource=status -n shop", true),
        ("patch backupplans.ferry.dev --subresource=status -n shop", true), ("patch targets.ferry.dev --subresource=status -n shop", true),
        ("patch clusterbackupplans.ferry.dev --subresource=status", true),
        ("update volumetransfers.ferry.dev --subresource=status -n shop", true),
        // Scheduled Backups, and the volume work units.
        ("create backups.ferry.dev -n shop", true), ("create volumetransfers.ferry.dev -n shop", true),
        // CSI exposure: snapshot, claim, pause pod, and their removal; volume-mode change.
        ("create volumesnapshots.snapshot.storage.k8s.io -n shop", true), ("delete volumesnapshots.snapshot.storage.k8s.io -n shop", true),
        ("patch volumesnapshotcontents.snapshot.storage.k8s.io", true),
        ("create persistentvolumeclaims -n shop", true), ("delete persistentvolumeclaims -n shop", true),
        ("create pods -n shop", true), ("delete pods -n shop", true),
        // Leader election in its own namespace only.
        ("get leases.coordination.k8s.io -n ferry", true), ("create leases.coordination.k8s.io -n ferry", true),
        ("update leases.coordination.k8s.io -n ferry", true), ("update leases.coordination.k8s.io -n shop", false),
        // Never: everything, deleting what it does not create, tokens, impersonation.
        ("* *", false), ("create * --all-namespaces", false), ("delete deployments.apps -n shop", false),
        ("delete secrets -n shop", false), ("delete namespaces", false), ("deletecollection pods -n shop", false),
        ("delete backups.ferry.dev -n shop", false),
        // Its finalizer on Backups and Restores it carries out, and the units of a deleted one.
        ("update backups.ferry.dev -n shop", true), ("update restores.ferry.dev -n shop", true),
        ("delete volumetransfers.ferry.dev -n shop", true),
        // Backup and restore hooks exec in the pods plans select (create on pods/exec), and
        // nothing else on pods' subresources.
        ("create pods --subresource=exec -n shop", true), ("create pods --subresource=attach -n shop", false),
        ("create pods --subresource=portforward -n shop", false), ("create serviceaccounts --subresource=token -n shop", false),
        ("impersonate serviceaccounts -n shop", false), ("impersonate users", false), ("patch nodes", false),
    ]

    static let restoreWrites: [String] = [
        "create namespaces", "create secrets -n shop", "patch configmaps -n shop", "create serviceaccounts -n shop",
        "create deployments.apps -n shop", "patch statefulsets.apps -n shop", "create services -n shop",
        "create persistentvolumes", "create customresourcedefinitions.apiextensions.k8s.io",
        "create clusterrolebindings.rbac.authorization.k8s.io",
        "create roles.rbac.authorization.k8s.io -n shop", "bind clusterroles.rbac.authorization.k8s.io",
        "escalate roles.rbac.authorization.k8s.io -n shop",
        "create virtualmachines.kubevirt.io -n shop", "create datavolumes.cdi.kubevirt.io -n shop",
        "create virtualmachineinstancetypes.instancetype.kubevirt.io -n shop",
        "create virtualmachineclusterpreferences.instancetype.kubevirt.io",
        "create validatingwebhookconfigurations.admissionregistration.k8s.io", "create subscriptions.operators.coreos.com -n shop",
    ]

    static let agentChecks: [Check] = [
        ("list volumetransfers.ferry.dev --all-namespaces", true), ("watch volumetransfers.ferry.dev --all-namespaces", true),
        ("update volumetransfers.ferry.dev --subresource=status -n shop", true),
        ("patch volumetransfers.ferry.dev --subresource=status -n shop", true),
        ("get targets.ferry.dev -n shop", true), ("get secrets -n shop", true),
        ("get volumesnapshots.snapshot.storage.k8s.io -n shop", true), ("get volumesnapshotcontents.snapshot.storage.k8s.io", true),
        ("create serviceaccounts/ferry-agent --subresource=token -n ferry", true),
        // Never: listing Secrets, writing units themselves, other accounts' tokens, anything else.
        ("list secrets -n shop", false), ("watch secrets --all-namespaces", false), ("create volumetransfers.ferry.dev -n shop", false),
        ("update volumetransfers.ferry.dev -n shop", false), ("delete volumetransfers.ferry.dev -n shop", false),
        ("create serviceaccounts/ferry-coordinator --subresource=token -n ferry", false),
        ("create serviceaccounts/ferry-agent --subresource=token -n shop", false), ("create backups.ferry.dev -n shop", false),
        ("get pods -n shop", false), ("create pods --subresource=exec -n shop", false), ("* *", false),
    ]

    func canI(_ cluster: KubeTestCluster, _ kubectl: String, _ question: String, as user: String) async throws -> Bool? {
        let arguments = ["auth", "can-i"] + question.split(separator: " ").map(String.init) + ["--as=\(user)"]
        let environment = ["KUBECONFIG": "\(cluster.directory)/kubeconfig", "HOME": cluster.directory]
        let (status, output) = try await ExternalTool.kubectl.run(arguments, environment: environment, path: kubectl)
        let answer = output.split(separator: "\n").last.map(String.init) ?? ""
        switch (status, answer) {
        case (0, "yes"): return true
        case (1, "no"): return false
        default:
            Issue.record("kubectl \(arguments.joined(separator: " ")): \(status) \(output)")
            return nil
        }
    }

    /// Guest freeze goes through virt-api's aggregated API, which the test server's discovery does
    /// not list (so `can-i` could not resolve it): the same SelfSubjectAccessReview, posted by
    /// `kubectl create --raw` with explicit attributes under impersonation. (`kubectl create -f`
    /// would validate it client-side first, which for a kind without a PATCH path lists the CRDs,
    /// as the impersonated user: the agent may not, on a real cluster as here.)
    func canFreeze(_ cluster: KubeTestCluster, _ kubectl: String, _ action: String, as user: String) async throws -> Bool? {
        let review = """
            {"apiVersion": "authorization.k8s.io/v1", "kind": "SelfSubjectAccessReview",
             "spec": {"resourceAttributes": {"namespace": "shop", "verb": "update", "group": "subresources.kubevirt.io",
                      "resource": "virtualmachineinstances", "subresource": "\(action)", "name": "vm1"}}}
            """
        let file = "\(cluster.directory)/review-\(action).json"
        try review.write(toFile: file, atomically: true, encoding: .utf8)
        let arguments = ["create", "--raw", "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews", "-f", file, "--as=\(user)"]
        let environment = ["KUBECONFIG": "\(cluster.directory)/kubeconfig", "HOME": cluster.directory]
        let (status, output) = try await ExternalTool.kubectl.run(arguments, environment: environment, path: kubectl)
        guard status == 0, let allowed = (try? JSONValue(parsing: output))?["status"]?["allowed"]?.boolValue else {
            Issue.record("kubectl \(arguments.joined(separator: " ")): \(status) \(output)")
            return nil
        }
        return allowed
    }

    func install(_ cluster: KubeTestCluster, _ values: [String]) async throws -> Bool {
        try await cluster.server.load(yaml: "apiVersion: v1\nkind: Namespace\nmetadata: {name: ferry}")
        // The kinds the questions name must be discoverable, as on a cluster that runs them.
        for crd in [
            "csi/external-snapshotter/crd/snapshot.storage.k8s.io_volumesnapshots.yaml",
            "csi/external-snapshotter/crd/snapshot.storage.k8s.io_volumesnapshotcontents.yaml",
            "csi/snapshot-metadata/cbt.storage.k8s.io_snapshotmetadataservices.yaml", "crds/kubevirt.yaml", "crds/cdi.yaml",
            "crds/instancetype.yaml",
            "operators/olm-crds/operators.coreos.com_subscriptions.yaml",
            "operators/memcached-operator/config/crd/bases/cache.example.com_memcacheds.yaml",
        ] {
            try await cluster.load(crd)
        }
        _ = try await cluster.helm(["install", "ferry", ChartTests.chart, "-n", "ferry"] + values)
        return true
    }

    @Test(arguments: [true, false])
    func identitiesMayDoWhatTheyNeedAndNothingMore(restore: Bool) async throws {
        let kubectl = try ExternalTool.kubectl.requiredPath()
        try await withKubeTestCluster { cluster in
            guard try await install(cluster, ["--set", "rbac.restore=\(restore)"]) else { return }
            var checks = Self.coordinatorAlways
            checks += Self.restoreWrites.map { ($0, restore) }
            // Custom resources of applications' own kinds only when a ClusterRole grants them.
            checks.append(("create memcacheds.cache.example.com -n shop", false))
            for (question, allowed) in checks {
                let answer = try await canI(cluster, kubectl, question, as: Self.coordinator)
                #expect(answer == allowed, "coordinator (rbac.restore=\(restore)): can-i \(question)")
            }
            for action in ["freeze", "unfreeze"] {
                #expect(try await canFreeze(cluster, kubectl, action, as: Self.coordinator) == true, "coordinator: \(action)")
                #expect(try await canFreeze(cluster, kubectl, action, as: Self.agent) == false, "agent: \(action)")
            }
            for (question, allowed) in Self.agentChecks {
                let answer = try await canI(cluster, kubectl, question, as: Self.agent)
                #expect(answer == allowed, "agent (rbac.restore=\(restore)): can-i \(question)")
            }
        }
    }

    /// rbac.restoreCustomResources renders a ClusterRole that aggregates into the coordinator's
    /// restore role (the aggregation controller fills it in).
    @Test func restoresReachListedCustomResources() async throws {
        let kubectl = try ExternalTool.kubectl.requiredPath()
        try await withKubeTestCluster { cluster in
            let values = [
                "--set",
                "rbac.restoreCustomResources[0].apiGroups={cache.example.com},rbac.restoreCustomResources[0].resources={memcacheds}",
            ]
            guard try await install(cluster, values) else { return }
            #expect(try await canI(cluster, kubectl, "create memcacheds.cache.example.com -n shop", as: Self.coordinator) == true)
            #expect(try await canI(cluster, kubectl, "patch memcacheds.cache.example.com -n shop", as: Self.coordinator) == true)
            #expect(try await canI(cluster, kubectl, "delete memcacheds.cache.example.com -n shop", as: Self.coordinator) == false)
            #expect(try await canI(cluster, kubectl, "create memcacheds.cache.example.com -n shop", as: Self.agent) == false)
            let aggregated = await cluster.server.object(
                apiVersion: "rbac.authorization.k8s.io/v1", kind: "ClusterRole", name: "ferry-restore-custom-resources")
            #expect(
                aggregated?["rules"] == [
                    ["apiGroups": ["cache.example.com"], "resources": ["memcacheds"], "verbs": ["create", "patch", "update"]]
                ])
        }
    }
}
