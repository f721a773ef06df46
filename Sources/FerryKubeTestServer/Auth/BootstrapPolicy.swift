import FerryKube

/// The RBAC objects kube-apiserver creates at start-up (its bootstrap policy,
/// `plugin/pkg/auth/authorizer/rbac/bootstrappolicy`), as far as users and tools see them:
/// `cluster-admin` for `system:masters`; the aggregated `admin`, `edit` and `view` roles and
/// what aggregates into them; `system:basic-user` (self reviews), `system:discovery` and
/// `system:public-info-viewer` with their bindings; `system:auth-delegator`, `system:monitoring`
/// and `system:service-account-issuer-discovery`. Controller and node roles are left out.
enum BootstrapPolicy {
    static let read = ["get", "list", "watch"]
    static let write = ["create", "delete", "deletecollection", "patch", "update"]
    static let readWrite = ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"]

    static func rule(_ verbs: [String], _ groups: [String], _ resources: [String]) -> PolicyRule {
        PolicyRule(verbs: verbs, apiGroups: groups, resources: resources)
    }

    static func urls(_ verbs: [String], _ urls: [String]) -> PolicyRule {
        PolicyRule(verbs: verbs, nonResourceURLs: urls)
    }

    static let aggregateToView: [PolicyRule] = [
        rule(
            read, [""],
            [
                "configmaps", "endpoints", "persistentvolumeclaims", "persistentvolumeclaims/status", "pods",
                "replicationcontrollers", "replicationcontrollers/scale", "serviceaccounts", "services", "services/status",
            ]),
        rule(
            read, [""],
            [
                "bindings", "events", "limitranges", "namespaces/status", "pods/log", "pods/status",
                "replicationcontrollers/status", "resourcequotas", "resourcequotas/status",
            ]),
        rule(read, [""], ["namespaces"]),
        rule(read, ["discovery.k8s.io"], ["endpointslices"]),
        rule(
            read, ["apps"],
            [
                "controllerrevisions", "daemonsets", "daemonsets/status", "deployments", "deployments/scale",
                "deployments/status", "replicasets", "replicasets/scale", "replicasets/status", "statefulsets",
                "statefulsets/scale", "statefulsets/status",
            ]),
        rule(read, ["autoscaling"], ["horizontalpodautoscalers", "horizontalpodautoscalers/status"]),
        rule(read, ["batch"], ["cronjobs", "cronjobs/status", "jobs", "jobs/status"]),
        rule(
            read, ["extensions"],
            [
                "daemonsets", "daemonsets/status", "deployments", "deployments/scale", "deployments/status",
                "ingresses", "ingresses/status", "networkpolicies", "replicasets", "replicasets/scale",
                "replicasets/status", "replicationcontrollers/scale",
            ]),
        rule(read, ["policy"], ["poddisruptionbudgets", "poddisruptionbudgets/status"]),
        rule(read, ["networking.k8s.io"], ["ingresses", "ingresses/status", "networkpolicies"]),
    ]

    static let aggregateToEdit: [PolicyRule] = [
        rule(read, [""], ["pods/attach", "pods/exec", "pods/portforward", "pods/proxy", "secrets", "services/proxy"]),
        rule(["impersonate"], [""], ["serviceaccounts"]),
        rule(write, [""], ["pods", "pods/attach", "pods/exec", "pods/portforward", "pods/proxy"]),
        rule(["create"], [""], ["pods/eviction"]),
        rule(
            write, [""],
            [
                "configmaps", "events", "persistentvolumeclaims", "replicationcontrollers", "replicationcontrollers/scale",
                "secrets", "serviceaccounts", "services", "services/proxy",
            ]),
        rule(["create"], [""], ["serviceaccounts/token"]),
        rule(
            write, ["apps"],
            [
                "daemonsets", "deployments", "deployments/rollback", "deployments/scale", "replicasets",
                "replicasets/scale", "statefulsets", "statefulsets/scale",
            ]),
        rule(write, ["autoscaling"], ["horizontalpodautoscalers"]),
        rule(write, ["batch"], ["cronjobs", "jobs"]),
        rule(
            write, ["extensions"],
            [
                "daemonsets", "deployments", "deployments/rollback", "deployments/scale", "ingresses",
                "networkpolicies", "replicasets", "replicasets/scale", "replicationcontrollers/scale",
            ]),
        rule(write, ["policy"], ["poddisruptionbudgets"]),
        rule(write, ["networking.k8s.io"], ["ingresses", "networkpolicies"]),
        rule(readWrite, ["coordination.k8s.io"], ["leases"]),
    ]

    static let aggregateToAdmin: [PolicyRule] = [
        rule(["create"], ["authorization.k8s.io"], ["localsubjectaccessreviews"]),
        rule(readWrite, ["rbac.authorization.k8s.io"], ["rolebindings", "roles"]),
    ]

    static let discoveryURLs = [
        "/api", "/api/*", "/apis", "/apis/*", "/healthz", "/livez", "/openapi", "/openapi/*", "/readyz",
        "/version", "/version/",
    ]
    static let publicInfoURLs = ["/healthz", "/livez", "/readyz", "/version", "/version/"]

    /// The cluster roles, in name order.
    static var clusterRoles: [JSONValue] {
        func role(_ name: String, _ rules: [PolicyRule], labels: [String: String] = [:], aggregating: String? = nil) -> JSONValue {
            var metadata: JSONValue = [
                "name": .string(name), "annotations": ["rbac.authorization.kubernetes.io/autoupdate": "true"],
                "labels": JSONValue(stringMap: labels.merging(["kubernetes.io/bootstrapping": "rbac-defaults"]) { a, _ in a }),
            ]
            metadata["creationTimestamp"] = nil
            var object: JSONValue = [
                "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole", "metadata": metadata,
                "rules": .array(rules.map(\.json)),
            ]
            if let aggregating {
                object["aggregationRule"] = ["clusterRoleSelectors": [["matchLabels": JSONValue(stringMap: [aggregating: "true"])]]]
            }
            return object
        }
        let toAdmin = ["rbac.authorization.k8s.io/aggregate-to-admin": "true"]
        let toEdit = ["rbac.authorization.k8s.io/aggregate-to-edit": "true"]
        let toView = ["rbac.authorization.k8s.io/aggregate-to-view": "true"]
        return [
            role("admin", [], aggregating: "rbac.authorization.k8s.io/aggregate-to-admin"),
            role("cluster-admin", [rule(["*"], ["*"], ["*"]), urls(["*"], ["*"])]),
            role("edit", [], labels: toAdmin, aggregating: "rbac.authorization.k8s.io/aggregate-to-edit"),
            role("system:aggregate-to-admin", aggregateToAdmin, labels: toAdmin),
            role("system:aggregate-to-edit", aggregateToEdit, labels: toEdit),
            role("system:aggregate-to-view", aggregateToView, labels: toView),
            role(
                "system:auth-delegator",
                [
                    rule(["create"], ["authentication.k8s.io"], ["tokenreviews"]),
                    rule(["create"], ["authorization.k8s.io"], ["subjectaccessreviews"]),
                ]),
            role(
                "system:basic-user",
                [
                    rule(["create"], ["authorization.k8s.io"], ["selfsubjectaccessreviews", "selfsubjectrulesreviews"]),
                    rule(["create"], ["authentication.k8s.io"], ["selfsubjectreviews"]),
                ]),
            role("system:discovery", [urls(["get"], discoveryURLs)]),
            role(
                "system:monitoring",
                [
                    urls(
                        ["get"],
                        [
                            "/healthz", "/healthz/*", "/livez", "/livez/*", "/metrics", "/metrics/slis",
                            "/readyz", "/readyz/*",
                        ])
                ]),
            role("system:public-info-viewer", [urls(["get"], publicInfoURLs)]),
            role("system:service-account-issuer-discovery", [urls(["get"], ["/.well-known/openid-configuration", "/openid/v1/jwks"])]),
            role("view", [], labels: toEdit, aggregating: "rbac.authorization.k8s.io/aggregate-to-view"),
        ]
    }

    static var clusterRoleBindings: [JSONValue] {
        func binding(_ role: String, groups: [String]) -> JSONValue {
            [
                "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
                "metadata": [
                    "name": .string(role), "annotations": ["rbac.authorization.kubernetes.io/autoupdate": "true"],
                    "labels": ["kubernetes.io/bootstrapping": "rbac-defaults"],
                ],
                "roleRef": ["apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": .string(role)],
                "subjects": .array(groups.map { ["apiGroup": "rbac.authorization.k8s.io", "kind": "Group", "name": .string($0)] }),
            ]
        }
        return [
            binding("cluster-admin", groups: [UserInfo.mastersGroup]),
            binding("system:basic-user", groups: [UserInfo.authenticatedGroup]),
            binding("system:discovery", groups: [UserInfo.authenticatedGroup]),
            binding("system:monitoring", groups: ["system:monitoring"]),
            binding("system:public-info-viewer", groups: [UserInfo.authenticatedGroup, UserInfo.unauthenticatedGroup]),
            binding("system:service-account-issuer-discovery", groups: [UserInfo.serviceAccountsGroup]),
        ]
    }
}
