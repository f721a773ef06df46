import FerryApps
import FerryKube
import FerryKubeTestServer
import FerryKubeTestSupport
import Testing

@Suite struct OperatorDiscoveryTests {
    static let csvName = "memcached-operator.v0.0.1"
    static let account = "memcached-operator-controller-manager"

    /// The memcached operator as OLM installs it in namespace "operators", plus what it manages.
    func installWithOLM(_ cluster: KubeTestCluster) async throws {
        try await cluster.load("operators/olm-crds/operators.coreos.com_subscriptions.yaml")
        try await cluster.load("operators/olm-crds/operators.coreos.com_operatorgroups.yaml")
        try await cluster.load("crds/olm-csv.yaml")
        try await cluster.load("operators/memcached-operator/bundle/manifests/cache.example.com_memcacheds.yaml")
        try await cluster.load(
            "operators/memcached-operator/bundle/manifests/memcached-operator.clusterserviceversion.yaml", namespace: "operators")
        let olmOwner = "{olm.owner: \(Self.csvName), olm.owner.kind: ClusterServiceVersion, olm.owner.namespace: operators}"
        try await cluster.server.load(
            yaml: """
                apiVersion: operators.coreos.com/v1alpha1
                kind: Subscription
                metadata: {name: memcached-operator, namespace: operators}
                spec: {channel: alpha, name: memcached-operator, source: operatorhubio-catalog, sourceNamespace: olm}
                status: {installedCSV: \(Self.csvName), currentCSV: \(Self.csvName), state: AtLatestKnown}
                ---
                apiVersion: operators.coreos.com/v1
                kind: OperatorGroup
                metadata: {name: operators-og, namespace: operators}
                spec: {}
                ---
                apiVersion: v1
                kind: ServiceAccount
                metadata: {name: \(Self.account), namespace: operators}
                ---
                apiVersion: apps/v1
                kind: Deployment
                metadata: {name: memcached-operator-controller-manager, namespace: operators, labels: {olm.owner: \(Self.csvName)}}
                spec:
                  selector: {matchLabels: {control-plane: controller-manager}}
                  template:
                    metadata: {labels: {control-plane: controller-manager}}
                    spec: {serviceAccountName: \(Self.account), containers: [{name: manager, image: "controller:latest"}]}
                ---
                apiVersion: rbac.authorization.k8s.io/v1
                kind: Role
                metadata: {name: memcached-operator.v0.0.1-leader, namespace: operators, labels: \(olmOwner)}
                rules: [{apiGroups: [coordination.k8s.io], resources: [leases], verbs: ["*"]}]
                ---
                apiVersion: rbac.authorization.k8s.io/v1
                kind: RoleBinding
                metadata: {name: memcached-operator.v0.0.1-leader, namespace: operators, labels: \(olmOwner)}
                roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: memcached-operator.v0.0.1-leader}
                subjects: [{kind: ServiceAccount, name: \(Self.account), namespace: operators}]
                ---
                apiVersion: rbac.authorization.k8s.io/v1
                kind: ClusterRole
                metadata: {name: memcached-operator.v0.0.1-manager, labels: \(olmOwner)}
                rules: [{apiGroups: [cache.example.com], resources: [memcacheds, memcacheds/status], verbs: ["*"]}]
                ---
                apiVersion: rbac.authorization.k8s.io/v1
                kind: ClusterRoleBinding
                metadata: {name: memcached-operator.v0.0.1-manager, labels: \(olmOwner)}
                roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: memcached-operator.v0.0.1-manager}
                subjects: [{kind: ServiceAccount, name: \(Self.account), namespace: operators}]
                ---
                apiVersion: rbac.authorization.k8s.io/v1
                kind: ClusterRoleBinding
                metadata: {name: everyone-can-view}
                roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: view}
                subjects: [{kind: ServiceAccount, name: \(Self.account), namespace: operators}]
                ---
                apiVersion: rbac.authorization.k8s.io/v1
                kind: ClusterRole
                metadata: {name: view, labels: {kubernetes.io/bootstrapping: rbac-defaults}}
                rules: [{apiGroups: [""], resources: [pods], verbs: [get]}]
                """)
        try await cluster.load("operators/memcached-operator/config/samples/cache_v1alpha1_memcached.yaml", namespace: "operators")
        try await addOperand(cluster, namespace: "operators")
    }

    /// What the operator creates for its custom resource: a Deployment (owned by the CR), its
    /// ReplicaSet and Pod (owned by their controllers).
    func addOperand(_ cluster: KubeTestCluster, namespace: String) async throws {
        let memcacheds = try await cluster.client.resource(apiVersion: "cache.example.com/v1alpha1", kind: "Memcached")
        let sample = try await cluster.client.get(memcacheds, namespace: namespace, name: "memcached-sample")
        try await cluster.server.load(
            yaml: """
                apiVersion: apps/v1
                kind: Deployment
                metadata:
                  name: memcached-sample
                  namespace: \(namespace)
                  uid: dep-uid-1
                  ownerReferences:
                  - {apiVersion: cache.example.com/v1alpha1, kind: Memcached, name: memcached-sample, uid: \(sample.uid!), controller: true}
                spec:
                  selector: {matchLabels: {app: memcached}}
                  template:
                    metadata: {labels: {app: memcached}}
                    spec: {containers: [{name: memcached, image: "memcached:1.4.36-alpine"}]}
                ---
                apiVersion: apps/v1
                kind: ReplicaSet
                metadata:
                  name: memcached-sample-5d8f7
                  namespace: \(namespace)
                  uid: rs-uid-1
                  ownerReferences: [{apiVersion: apps/v1, kind: Deployment, name: memcached-sample, uid: dep-uid-1, controller: true}]
                spec: {selector: {matchLabels: {app: memcached}}}
                """)
    }

    @Test func olmSubscriptionToEverythingTheOperatorOwns() async throws {
        try await withKubeTestCluster { cluster in
            try await installWithOLM(cluster)
            let result = try await cluster.discover(
                .operator(OperatorReference(.subscription("memcached-operator"))), namespace: "operators")
            let csv = "ClusterServiceVersion \(Self.csvName)"
            let olm = "RBAC of operator service account of ClusterServiceVersion \(Self.csvName)"
            let rbac = "RBAC of operator service account \(Self.account)"
            let sa = "ServiceAccount operators/\(Self.account)"
            #expect(
                result.summary == [
                    "\(sa) <- \(rbac); service account of Deployment.apps operators/memcached-operator-controller-manager",
                    "CustomResourceDefinition.apiextensions.k8s.io clusterserviceversions.operators.coreos.com <- "
                        + "CustomResourceDefinition of captured ClusterServiceVersion.operators.coreos.com operators/\(Self.csvName)",
                    "CustomResourceDefinition.apiextensions.k8s.io memcacheds.cache.example.com <- CRD owned by the operator (\(csv)); "
                        + "CustomResourceDefinition of captured Memcached.cache.example.com operators/memcached-sample",
                    "CustomResourceDefinition.apiextensions.k8s.io operatorgroups.operators.coreos.com <- "
                        + "CustomResourceDefinition of captured OperatorGroup.operators.coreos.com operators/operators-og",
                    "CustomResourceDefinition.apiextensions.k8s.io subscriptions.operators.coreos.com <- "
                        + "CustomResourceDefinition of captured Subscription.operators.coreos.com operators/memcached-operator",
                    "Deployment.apps operators/memcached-operator-controller-manager <- operator Deployment installed by \(csv)",
                    "Deployment.apps operators/memcached-sample <- owned by Memcached.cache.example.com operators/memcached-sample",
                    "Memcached.cache.example.com operators/memcached-sample <- "
                        + "custom resource of the operator's CRD memcacheds.cache.example.com",
                    "ClusterServiceVersion.operators.coreos.com operators/\(Self.csvName) <- "
                        + "ClusterServiceVersion installed by Subscription memcached-operator",
                    "OperatorGroup.operators.coreos.com operators/operators-og <- "
                        + "OperatorGroup of Subscription.operators.coreos.com operators/memcached-operator",
                    "Subscription.operators.coreos.com operators/memcached-operator <- OLM Subscription memcached-operator of the operator",
                    "ClusterRole.rbac.authorization.k8s.io memcached-operator.v0.0.1-manager <- \(rbac); \(olm); "
                        + "role referenced by ClusterRoleBinding.rbac.authorization.k8s.io memcached-operator.v0.0.1-manager",
                    "ClusterRoleBinding.rbac.authorization.k8s.io everyone-can-view <- \(rbac); binds \(sa)",
                    "ClusterRoleBinding.rbac.authorization.k8s.io memcached-operator.v0.0.1-manager <- \(rbac); \(olm); binds \(sa)",
                    "Role.rbac.authorization.k8s.io operators/memcached-operator.v0.0.1-leader <- \(rbac); \(olm); "
                        + "role referenced by RoleBinding.rbac.authorization.k8s.io operators/memcached-operator.v0.0.1-leader",
                    "RoleBinding.rbac.authorization.k8s.io operators/memcached-operator.v0.0.1-leader <- \(rbac); \(olm); binds \(sa)",
                ])
            #expect(
                result.dropped.map { "\($0.reference): \($0.why)" } == [
                    "ReplicaSet.apps operators/memcached-sample-5d8f7: created by its controller Deployment memcached-sample",
                    "ClusterRole.rbac.authorization.k8s.io view: built-in role every cluster has",
                ])
            #expect(result.issues.isEmpty, "\(result.issues)")

            // Restore order: definitions, then the operator's own prerequisites, the operator
            // (waited for), the rest of RBAC, custom resources, and workloads last.
            let steps = result.restorePlan.map { step in "\(step.phase): " + step.components.map(\.reference.name).joined(separator: ",") }
            #expect(
                steps == [
                    "CustomResourceDefinitions: clusterserviceversions.operators.coreos.com,"
                        + "memcacheds.cache.example.com,operatorgroups.operators.coreos.com,subscriptions.operators.coreos.com",
                    "operator service accounts, RBAC, Secrets, ConfigMaps and Services: \(Self.account),"
                        + "memcached-operator.v0.0.1-manager,everyone-can-view,memcached-operator.v0.0.1-manager,"
                        + "memcached-operator.v0.0.1-leader,memcached-operator.v0.0.1-leader",
                    "operator (wait until ready): memcached-operator-controller-manager,\(Self.csvName),operators-og,memcached-operator",
                    "custom resources: memcached-sample",
                    "workloads: memcached-sample",
                ])
            #expect(result.restorePlan.first { $0.phase == .operatorInstallation }?.phase.waitsUntilReady == true)
        }
    }

    @Test func operatorByNameFindsTheSubscriptionOrTheCSV() async throws {
        try await withKubeTestCluster { cluster in
            try await installWithOLM(cluster)
            let bySubscription = try await cluster.discover(
                .operator(OperatorReference(.named("memcached-operator"))), namespace: "operators")
            #expect(bySubscription.references.contains("Subscription.operators.coreos.com operators/memcached-operator"))
            // Without a Subscription the CSV (named with its version suffix) still leads the way.
            await cluster.server.delete(
                apiVersion: "operators.coreos.com/v1alpha1", kind: "Subscription", namespace: "operators", name: "memcached-operator")
            let byCSV = try await cluster.discover(.operator(OperatorReference(.named("memcached-operator"))), namespace: "operators")
            #expect(!byCSV.references.contains { $0.hasPrefix("Subscription") })
            #expect(byCSV.references.contains("Memcached.cache.example.com operators/memcached-sample"))
            #expect(byCSV.references.contains("Deployment.apps operators/memcached-operator-controller-manager"))
            // Only the kinds asked for.
            let none = try await cluster.discover(
                .operator(
                    OperatorReference(.named("memcached-operator"), customResources: [GroupKind(group: "cache.example.com", kind: "Other")])
                ),
                namespace: "operators")
            #expect(!none.references.contains { $0.hasPrefix("Memcached") })
            let missing = try await cluster.discover(.operator(OperatorReference(.named("nope"))), namespace: "operators")
            #expect(missing.components.isEmpty && missing.issues.map(\.kind) == [.missing])
        }
    }

    @Test func plainDeploymentOperatorFindsItsCRDsThroughRBAC() async throws {
        try await withKubeTestCluster { cluster in
            let base = "operators/memcached-operator/config"
            try await cluster.load("\(base)/crd/bases/cache.example.com_memcacheds.yaml")
            try await cluster.load("\(base)/manager/manager.yaml")
            for file in [
                "service_account", "role", "role_binding", "leader_election_role", "leader_election_role_binding", "memcached_viewer_role",
            ] {
                try await cluster.load("\(base)/rbac/\(file).yaml", namespace: "system")
            }
            try await cluster.load("\(base)/samples/cache_v1alpha1_memcached.yaml", namespace: "system")
            try await addOperand(cluster, namespace: "system")
            let result = try await cluster.discover(.operator(OperatorReference(.deployment("controller-manager"))), namespace: "system")
            let rbac = "RBAC of operator service account controller-manager"
            #expect(
                result.summary == [
                    "ServiceAccount system/controller-manager <- \(rbac); service account of Deployment.apps system/controller-manager",
                    "CustomResourceDefinition.apiextensions.k8s.io memcacheds.cache.example.com <- "
                        + "CRD owned by the operator (Deployment controller-manager); "
                        + "CustomResourceDefinition of captured Memcached.cache.example.com system/memcached-sample",
                    "Deployment.apps system/controller-manager <- operator Deployment installed by Deployment",
                    "Deployment.apps system/memcached-sample <- owned by Memcached.cache.example.com system/memcached-sample",
                    "Memcached.cache.example.com system/memcached-sample <- "
                        + "custom resource of the operator's CRD memcacheds.cache.example.com",
                    "ClusterRole.rbac.authorization.k8s.io manager-role <- \(rbac); "
                        + "role referenced by ClusterRoleBinding.rbac.authorization.k8s.io manager-rolebinding",
                    "ClusterRoleBinding.rbac.authorization.k8s.io manager-rolebinding <- \(rbac); "
                        + "binds ServiceAccount system/controller-manager",
                    "Role.rbac.authorization.k8s.io system/leader-election-role <- \(rbac); "
                        + "role referenced by RoleBinding.rbac.authorization.k8s.io system/leader-election-rolebinding",
                    "RoleBinding.rbac.authorization.k8s.io system/leader-election-rolebinding <- \(rbac); "
                        + "binds ServiceAccount system/controller-manager",
                ])
            #expect(result.issues.isEmpty, "\(result.issues)")
        }
    }
}
