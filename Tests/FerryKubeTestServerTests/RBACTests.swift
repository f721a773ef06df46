import FerryKube
import FerryKubeTestServer
import Foundation
import Testing

/// RBAC as kube-apiserver evaluates it. The Forbidden answers mirror
/// `responsewriters.Forbidden` (k8s.io/apiserver/pkg/endpoints/handlers/responsewriters/errors.go):
/// `NewForbidden(group resource without subresource, name, "User %q cannot %s resource %q in API
/// group %q in the namespace %q")` — `at the cluster scope` without a namespace, `cannot %s path
/// %q` for non-resource URLs — with RBAC's reason after a colon (`RBAC: clusterrole... not found`),
/// and `details {name, group, kind: resource}`. Escalation answers mirror
/// `ConfirmNoEscalation` (pkg/registry/rbac/validation/rule.go).
@Suite struct RBACTests {
    static let robot = "system:serviceaccount:shop:robot"

    func shop(_ server: KubeTestServer) async throws -> String {
        try await server.load(yaml: "apiVersion: v1\nkind: Namespace\nmetadata: {name: shop}")
        return try await serviceAccount(server, "robot", in: "shop")
    }

    @Test func forbiddenAnswersHaveTheRealShape() async throws {
        try await withServer { server, _ in
            let token = try await shop(server)
            let list = await call(server, "GET", "/api/v1/namespaces/shop/pods", token: token)
            #expect(list.status == 403)
            #expect(
                list.json == [
                    "kind": "Status", "apiVersion": "v1", "metadata": [:], "status": "Failure", "reason": "Forbidden", "code": 403,
                    "message": .string(
                        #"pods is forbidden: User "\#(Self.robot)" cannot list resource "pods" in API group "" in the namespace "shop""#),
                    "details": ["kind": "pods"],
                ])
            let get = await call(server, "GET", "/api/v1/namespaces/shop/pods/web", token: token)
            #expect(
                get.message
                    == #"pods "web" is forbidden: User "\#(Self.robot)" cannot get resource "pods" in API group "" in the namespace "shop""#
            )
            #expect(get.json?["details"] == ["name": "web", "kind": "pods"])
            let cluster = await call(server, "GET", "/apis/apps/v1/deployments", token: token)
            #expect(
                cluster.message
                    == #"deployments.apps is forbidden: User "\#(Self.robot)" cannot list resource "deployments" in API group "apps" at "#
                    + #"the cluster scope"#
            )
            #expect(cluster.json?["details"] == ["group": "apps", "kind": "deployments"])
            // The subresource is in the attribute, not in the qualified resource nor the details.
            let exec = await call(server, "POST", "/api/v1/namespaces/shop/pods/web/exec?command=ls", token: token)
            #expect(
                exec.message
                    == #"pods "web" is forbidden: User "\#(Self.robot)" cannot create resource "pods/exec" in API group "" in the "#
                    + #"namespace "shop""#
            )
            #expect(exec.json?["details"] == ["name": "web", "kind": "pods"])
            let watch = await call(server, "GET", "/api/v1/namespaces/shop/configmaps?watch=true", token: token)
            #expect(watch.message.contains(#"cannot watch resource "configmaps""#))
            let collection = await call(server, "DELETE", "/api/v1/namespaces/shop/secrets", token: token)
            #expect(collection.message.contains(#"cannot deletecollection resource "secrets""#))
            let path = await call(server, "GET", "/metrics", token: token)
            #expect(path.message == #"forbidden: User "\#(Self.robot)" cannot get path "/metrics""#)
            // Authorization comes before routing: an unserved resource is 403 to whom may not
            // use it, 404 to whom may.
            let unserved = await call(server, "GET", "/apis/ferry.dev/v1alpha1/namespaces/shop/backups/b1/status", token: token)
            #expect(
                unserved.message
                    == #"backups.ferry.dev "b1" is forbidden: User "\#(Self.robot)" cannot get resource "backups/status" in API group "#
                    + #""ferry.dev" in the namespace "shop""#
            )
            #expect(
                await call(server, "GET", "/apis/ferry.dev/v1alpha1/namespaces/shop/backups/b1/status", token: server.adminToken).status
                    == 404)
            // Discovery and self reviews are every authenticated user's (system:discovery, system:basic-user).
            #expect(await call(server, "GET", "/apis", token: token).status == 200)
            #expect(await call(server, "GET", "/api/v1", token: token).status == 200)
        }
    }

    @Test func rolesAndBindingsGrantWhatTheyName() async throws {
        try await withServer { server, _ in
            let token = try await shop(server)
            try await server.load(
                yaml: """
                    apiVersion: rbac.authorization.k8s.io/v1
                    kind: Role
                    metadata: {name: reader, namespace: shop}
                    rules:
                    - {apiGroups: [""], resources: [pods], verbs: [get, list]}
                    - {apiGroups: [""], resources: [configmaps], resourceNames: [settings], verbs: [get, watch, list]}
                    ---
                    apiVersion: rbac.authorization.k8s.io/v1
                    kind: RoleBinding
                    metadata: {name: reader, namespace: shop}
                    roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: reader}
                    subjects: [{kind: ServiceAccount, name: robot}]
                    ---
                    apiVersion: rbac.authorization.k8s.io/v1
                    kind: ClusterRole
                    metadata: {name: status-reader}
                    rules:
                    - {apiGroups: ["*"], resources: ["*/status"], verbs: [get]}
                    - {nonResourceURLs: ["/logs/*"], verbs: [get]}
                    ---
                    apiVersion: rbac.authorization.k8s.io/v1
                    kind: ClusterRoleBinding
                    metadata: {name: status-reader}
                    roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: status-reader}
                    subjects: [{kind: ServiceAccount, name: robot, namespace: shop}]
                    """)
            #expect(await call(server, "GET", "/api/v1/namespaces/shop/pods", token: token).status == 200)
            #expect(
                await call(server, "GET", "/api/v1/namespaces/default/pods", token: token).status == 403,
                "a RoleBinding grants in its namespace")
            #expect(await call(server, "GET", "/api/v1/pods", token: token).status == 403)
            // The ServiceAccount subject without a namespace means the RoleBinding's.
            #expect(await call(server, "GET", "/api/v1/namespaces/shop/configmaps/settings", token: token).status == 404)
            #expect(await call(server, "GET", "/api/v1/namespaces/shop/configmaps/other", token: token).status == 403)
            #expect(
                await call(server, "GET", "/api/v1/namespaces/shop/configmaps", token: token).status == 403, "resourceNames cannot list")
            // A watch of one object by metadata.name is authorized as that name.
            #expect(
                await call(
                    server, "GET", "/api/v1/namespaces/shop/configmaps?watch=true&fieldSelector=metadata.name%3Dsettings", token: token
                ).status == 200)
            #expect(await call(server, "GET", "/apis/apps/v1/namespaces/default/deployments/web/status", token: token).status == 404)
            #expect(await call(server, "GET", "/apis/apps/v1/namespaces/default/deployments/web", token: token).status == 403)
            #expect(await call(server, "GET", "/logs/kube-apiserver.log", token: token).status == 404)
            #expect(await call(server, "GET", "/logsx", token: token).status == 403)

            // A binding whose role is missing grants nothing and says so in the reason.
            try await server.load(
                yaml: """
                    apiVersion: rbac.authorization.k8s.io/v1
                    kind: RoleBinding
                    metadata: {name: ghost, namespace: shop}
                    roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: ghost}
                    subjects: [{kind: ServiceAccount, name: robot, namespace: shop}]
                    """)
            let missing = await call(server, "DELETE", "/api/v1/namespaces/shop/pods/web", token: token)
            #expect(
                missing.message
                    == #"pods "web" is forbidden: User "\#(Self.robot)" cannot delete resource "pods" in API group "" in the namespace "#
                    + #""shop": RBAC: clusterrole.rbac.authorization.k8s.io "ghost" not found"#
            )
            try await server.load(
                yaml: """
                    apiVersion: rbac.authorization.k8s.io/v1
                    kind: RoleBinding
                    metadata: {name: phantom, namespace: shop}
                    roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: phantom}
                    subjects: [{kind: ServiceAccount, name: robot, namespace: shop}]
                    """)
            let two = await call(server, "DELETE", "/api/v1/namespaces/shop/pods/web", token: token)
            #expect(
                two.message.hasSuffix(
                    #": RBAC: [clusterrole.rbac.authorization.k8s.io "ghost" not found, role.rbac.authorization.k8s.io "phantom" not "#
                        + #"found]"#
                ))
        }
    }

    /// The aggregation controller (pkg/controller/clusterroleaggregation): an aggregated
    /// ClusterRole's rules are those of the ClusterRoles its selectors match, kept up to date.
    @Test func aggregatedClusterRolesFollowTheirLabelledRoles() async throws {
        try await withServer { server, client in
            let roles = try await client.resource(apiVersion: "rbac.authorization.k8s.io/v1", kind: "ClusterRole")
            func rules(_ name: String) async throws -> JSONValue? { try await client.get(roles, namespace: nil, name: name)["rules"] }
            // The bootstrap admin/edit/view chain is filled in.
            let view = try #require(try await rules("view")?.arrayValue)
            #expect(view.contains { $0["resources"]?.arrayValue?.contains("pods") == true && $0["verbs"] == ["get", "list", "watch"] })
            let admin = try #require(try await rules("admin")?.arrayValue)
            #expect(admin.contains { $0["resources"] == ["rolebindings", "roles"] }, "from system:aggregate-to-admin")
            #expect(admin.contains { $0["resources"]?.arrayValue?.contains("pods/exec") == true }, "from edit")
            #expect(admin.contains { $0["resources"]?.arrayValue?.contains("endpointslices") == true }, "from view, through edit")

            var monitoring = KubeObject(
                apiVersion: "rbac.authorization.k8s.io/v1", kind: "ClusterRole", name: "monitoring",
                body: ["aggregationRule": ["clusterRoleSelectors": [["matchLabels": ["example.com/aggregate-to-monitoring": "true"]]]]])
            _ = try await client.create(roles, monitoring)
            let initial = try await rules("monitoring")
            #expect(initial == nil || initial == [])
            var endpoints = KubeObject(
                apiVersion: "rbac.authorization.k8s.io/v1", kind: "ClusterRole", name: "monitoring-endpoints",
                body: ["rules": [["apiGroups": [""], "resources": ["services", "endpoints"], "verbs": ["get"]]]])
            endpoints.labels = ["example.com/aggregate-to-monitoring": "true"]
            endpoints = try await client.create(roles, endpoints)
            #expect(try await rules("monitoring") == [["apiGroups": [""], "resources": ["services", "endpoints"], "verbs": ["get"]]])
            endpoints.json["rules"] = [["apiGroups": [""], "resources": ["services", "endpoints"], "verbs": ["get", "list", "watch"]]]
            _ = try await client.update(roles, endpoints)
            #expect(
                try await rules("monitoring") == [
                    ["apiGroups": [""], "resources": ["services", "endpoints"], "verbs": ["get", "list", "watch"]]
                ])
            _ = try await client.delete(roles, namespace: nil, name: "monitoring-endpoints")
            #expect(try await rules("monitoring") == [])
            monitoring = try await client.get(roles, namespace: nil, name: "monitoring")
            #expect(monitoring["aggregationRule"] != nil)
        }
    }

    /// Escalation prevention: `roles.rbac.authorization.k8s.io "x" is forbidden: user "u"
    /// (groups=[...]) is attempting to grant RBAC permissions not currently held:\n{...}` with
    /// the missing rules compacted (`CompactRules`) and sorted; `escalate` and `bind` lift it.
    @Test func escalationIsPrevented() async throws {
        try await withServer { server, _ in
            try await server.load(yaml: "apiVersion: v1\nkind: Namespace\nmetadata: {name: shop}")
            let token = try await serviceAccount(server, "delegate", in: "shop")
            try await server.load(
                yaml: """
                    apiVersion: rbac.authorization.k8s.io/v1
                    kind: Role
                    metadata: {name: rbac-manager, namespace: shop}
                    rules:
                    - {apiGroups: [rbac.authorization.k8s.io], resources: [roles, rolebindings], verbs: [create, update, get]}
                    - {apiGroups: [""], resources: [pods], verbs: [get, list]}
                    ---
                    apiVersion: rbac.authorization.k8s.io/v1
                    kind: RoleBinding
                    metadata: {name: rbac-manager, namespace: shop}
                    roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: rbac-manager}
                    subjects: [{kind: ServiceAccount, name: delegate, namespace: shop}]
                    """)
            let user = "system:serviceaccount:shop:delegate"
            let groups = #"["system:serviceaccounts" "system:serviceaccounts:shop" "system:authenticated"]"#
            func role(_ name: String, _ rules: JSONValue) -> JSONValue {
                ["apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role", "metadata": ["name": .string(name)], "rules": rules]
            }
            func binding(_ name: String, kind: String, role: String) -> JSONValue {
                [
                    "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding", "metadata": ["name": .string(name)],
                    "roleRef": ["apiGroup": "rbac.authorization.k8s.io", "kind": .string(kind), "name": .string(role)],
                    "subjects": [["kind": "ServiceAccount", "name": "delegate", "namespace": "shop"]],
                ]
            }
            let roles = "/apis/rbac.authorization.k8s.io/v1/namespaces/shop/roles"
            let bindings = "/apis/rbac.authorization.k8s.io/v1/namespaces/shop/rolebindings"
            #expect(
                await call(
                    server, "POST", roles, token: token,
                    body: role("pod-reader", [["apiGroups": [""], "resources": ["pods"], "verbs": ["get"]]])
                ).status == 201)
            let escalating = await call(
                server, "POST", roles, token: token,
                body: role(
                    "deleter",
                    [
                        ["apiGroups": [""], "resources": ["pods"], "verbs": ["get", "delete", "deletecollection"]],
                        ["apiGroups": [""], "resources": ["secrets"], "verbs": ["get"]],
                    ]))
            #expect(escalating.status == 403 && escalating.json?["reason"] == "Forbidden")
            #expect(
                escalating.message == """
                    roles.rbac.authorization.k8s.io "deleter" is forbidden: user "\(user)" (groups=\(groups)) \
                    is attempting to grant RBAC permissions not currently held:
                    {APIGroups:[""], Resources:["pods"], Verbs:["delete" "deletecollection"]}
                    {APIGroups:[""], Resources:["secrets"], Verbs:["get"]}
                    """)
            #expect(escalating.json?["details"] == ["name": "deleter", "group": "rbac.authorization.k8s.io", "kind": "roles"])
            // Updating a role is checked the same way.
            var widened = role("pod-reader", [["apiGroups": [""], "resources": ["pods"], "verbs": ["get", "watch"]]])
            widened.setValue("shop", at: ["metadata", "namespace"])
            let update = await call(server, "PUT", "\(roles)/pod-reader", token: token, body: widened)
            #expect(update.message.hasSuffix("not currently held:\n" + #"{APIGroups:[""], Resources:["pods"], Verbs:["watch"]}"#))

            #expect(
                await call(server, "POST", bindings, token: token, body: binding("read-pods", kind: "Role", role: "pod-reader")).status
                    == 201)
            let toAdmin = await call(server, "POST", bindings, token: token, body: binding("admin", kind: "ClusterRole", role: "admin"))
            #expect(
                toAdmin.status == 403
                    && toAdmin.message.hasPrefix(
                        #"rolebindings.rbac.authorization.k8s.io "admin" is forbidden: user "\#(user)" (groups=\#(groups)) is attempting "#
                            + #"to grant RBAC permissions not currently held:"#
                    ))
            #expect(
                toAdmin.message.contains(
                    #"{APIGroups:["apps"], Resources:["deployments"], Verbs:["create" "delete" "deletecollection" "patch" "update" "get" "#
                        + #""list" "watch"]}"#
                ))
            let ghost = await call(server, "POST", bindings, token: token, body: binding("ghost", kind: "Role", role: "ghost"))
            #expect(
                ghost.message
                    == #"rolebindings.rbac.authorization.k8s.io "ghost" is forbidden: role.rbac.authorization.k8s.io "ghost" not found"#)

            // `escalate` on roles and `bind` on the admin ClusterRole lift the checks.
            try await server.load(
                yaml: """
                    apiVersion: rbac.authorization.k8s.io/v1
                    kind: Role
                    metadata: {name: delegation, namespace: shop}
                    rules:
                    - {apiGroups: [rbac.authorization.k8s.io], resources: [roles], verbs: [escalate]}
                    - {apiGroups: [rbac.authorization.k8s.io], resources: [clusterroles], resourceNames: [admin], verbs: [bind]}
                    ---
                    apiVersion: rbac.authorization.k8s.io/v1
                    kind: RoleBinding
                    metadata: {name: delegation, namespace: shop}
                    roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: delegation}
                    subjects: [{kind: ServiceAccount, name: delegate, namespace: shop}]
                    """)
            #expect(
                await call(
                    server, "POST", roles, token: token,
                    body: role("deleter", [["apiGroups": [""], "resources": ["pods"], "verbs": ["delete"]]])
                ).status == 201)
            #expect(
                await call(server, "POST", bindings, token: token, body: binding("admin", kind: "ClusterRole", role: "admin")).status == 201
            )
            // ... but only for what they name.
            let edit = await call(server, "POST", bindings, token: token, body: binding("edit", kind: "ClusterRole", role: "edit"))
            #expect(edit.status == 201, "holding admin now, the delegate holds everything edit grants: \(edit.message)")
        }
    }

    @Test func aggregationRulesNeedClusterAdmin() async throws {
        try await withServer { server, _ in
            let token = try await serviceAccount(server, "delegate", in: "default")
            try await server.load(
                yaml: """
                    apiVersion: rbac.authorization.k8s.io/v1
                    kind: ClusterRoleBinding
                    metadata: {name: delegate-manages-roles}
                    roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: role-manager}
                    subjects: [{kind: ServiceAccount, name: delegate, namespace: default}]
                    ---
                    apiVersion: rbac.authorization.k8s.io/v1
                    kind: ClusterRole
                    metadata: {name: role-manager}
                    rules: [{apiGroups: [rbac.authorization.k8s.io], resources: [clusterroles], verbs: [create]}]
                    """)
            let aggregated: JSONValue = [
                "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole", "metadata": ["name": "everything"],
                "aggregationRule": ["clusterRoleSelectors": [["matchLabels": ["x": "y"]]]],
            ]
            let answer = await call(server, "POST", "/apis/rbac.authorization.k8s.io/v1/clusterroles", token: token, body: aggregated)
            #expect(
                answer.message
                    == #"clusterroles.rbac.authorization.k8s.io "everything" is forbidden: must have cluster-admin privileges to use the "#
                    + #"aggregationRule"#
            )
            #expect(
                await call(server, "POST", "/apis/rbac.authorization.k8s.io/v1/clusterroles", token: server.adminToken, body: aggregated)
                    .status == 201)
        }
    }

    /// The `deny` test control stays a layer on top of RBAC: it refuses even the admin.
    @Test func denialsLayerOnTopOfRBAC() async throws {
        try await withServer { server, _ in
            await server.deny(
                .init(verbs: ["get"], resource: "configmaps", namespace: "default", reason: "RBAC: role \"reader\" not found"))
            let denied = await call(server, "GET", "/api/v1/namespaces/default/configmaps/settings", token: server.adminToken)
            #expect(
                denied.message
                    == #"configmaps "settings" is forbidden: User "system:admin" cannot get resource "configmaps" in API group "" in the "#
                    + #"namespace "default": RBAC: role "reader" not found"#
            )
            #expect(await call(server, "GET", "/api/v1/namespaces/default/configmaps", token: server.adminToken).status == 200)
        }
    }
}
