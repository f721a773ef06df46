import FerryKube
import FerryKubeTestServer
import Foundation
import Testing

/// Access reviews and impersonation. Mirrors: the review REST handlers
/// (pkg/registry/authorization/*: `status.allowed`, the authorizer's reason `RBAC: allowed by
/// RoleBinding "name/ns" of Role "r" to ServiceAccount "sa/ns"`, 422 `exactly one of
/// nonResourceAttributes or resourceAttributes must be specified`, 400 `no namespace on
/// request`), and the impersonation filter (k8s.io/apiserver/pkg/endpoints/filters/impersonation.go:
/// `impersonate` on users, groups, serviceaccounts, uids and userextras, a Forbidden for the
/// first one refused, groups `system:authenticated` added).
@Suite struct AccessReviewTests {
    static let ssar = "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews"

    func review(_ attributes: JSONValue, nonResource: Bool = false) -> JSONValue {
        [
            "apiVersion": "authorization.k8s.io/v1", "kind": "SelfSubjectAccessReview",
            "spec": [nonResource ? "nonResourceAttributes" : "resourceAttributes": attributes],
        ]
    }

    func readerInShop(_ server: KubeTestServer) async throws -> String {
        try await server.load(yaml: "apiVersion: v1\nkind: Namespace\nmetadata: {name: shop}")
        let token = try await serviceAccount(server, "robot", in: "shop")
        try await server.load(
            yaml: """
                apiVersion: rbac.authorization.k8s.io/v1
                kind: Role
                metadata: {name: reader, namespace: shop}
                rules: [{apiGroups: [""], resources: [pods], verbs: [get, list]}]
                ---
                apiVersion: rbac.authorization.k8s.io/v1
                kind: RoleBinding
                metadata: {name: reader, namespace: shop}
                roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: reader}
                subjects: [{kind: ServiceAccount, name: robot, namespace: shop}]
                """)
        return token
    }

    @Test func selfSubjectAccessReviews() async throws {
        try await withServer { server, _ in
            let token = try await readerInShop(server)
            let allowed = await call(
                server, "POST", Self.ssar, token: token, body: review(["namespace": "shop", "verb": "list", "resource": "pods"]))
            #expect(allowed.status == 201 && allowed.json?["kind"] == "SelfSubjectAccessReview")
            #expect(
                allowed.json?["status"] == [
                    "allowed": true,
                    "reason": #"RBAC: allowed by RoleBinding "reader/shop" of Role "reader" to ServiceAccount "robot/shop""#,
                ])
            let denied = await call(
                server, "POST", Self.ssar, token: token, body: review(["namespace": "shop", "verb": "delete", "resource": "pods"]))
            #expect(denied.json?["status"] == ["allowed": false])
            let everywhere = await call(server, "POST", Self.ssar, token: token, body: review(["verb": "list", "resource": "pods"]))
            #expect(everywhere.json?["status"]?["allowed"] == false, "no namespace: in all namespaces")
            let discovery = await call(
                server, "POST", Self.ssar, token: token, body: review(["path": "/apis", "verb": "get"], nonResource: true))
            #expect(
                discovery.json?["status"]?["reason"]?.stringValue
                    == #"RBAC: allowed by ClusterRoleBinding "system:discovery" of ClusterRole "system:discovery" to Group "#
                    + #""system:authenticated""#
            )
            let admin = await call(
                server, "POST", Self.ssar, token: server.adminToken, body: review(["verb": "*", "group": "*", "resource": "*"]))
            #expect(admin.json?["status"] == ["allowed": true], "system:masters is allowed before RBAC, with no reason")

            let empty = await call(
                server, "POST", Self.ssar, token: token,
                body: ["kind": "SelfSubjectAccessReview", "apiVersion": "authorization.k8s.io/v1", "spec": [:]])
            #expect(empty.status == 422)
            #expect(
                empty.message
                    == #"SelfSubjectAccessReview.authorization.k8s.io "" is invalid: spec.resourceAttributes: Invalid value: "null": "#
                    + #"exactly one of nonResourceAttributes or resourceAttributes must be specified"#
            )
        }
    }

    @Test func subjectAccessReviewsNeedTheirOwnGrant() async throws {
        try await withServer { server, _ in
            let token = try await readerInShop(server)
            let body: JSONValue = [
                "apiVersion": "authorization.k8s.io/v1", "kind": "SubjectAccessReview",
                "spec": [
                    "user": "system:serviceaccount:shop:robot", "groups": ["system:serviceaccounts"],
                    "resourceAttributes": ["namespace": "shop", "verb": "get", "resource": "pods", "name": "web"],
                ],
            ]
            let refused = await call(server, "POST", "/apis/authorization.k8s.io/v1/subjectaccessreviews", token: token, body: body)
            #expect(
                refused.message
                    == #"subjectaccessreviews.authorization.k8s.io is forbidden: User "system:serviceaccount:shop:robot" cannot create "#
                    + #"resource "subjectaccessreviews" in API group "authorization.k8s.io" at the cluster scope"#
            )
            let answered = await call(
                server, "POST", "/apis/authorization.k8s.io/v1/subjectaccessreviews", token: server.adminToken, body: body)
            #expect(answered.status == 201 && answered.json?["status"]?["allowed"] == true)
            var groupOnly = body
            groupOnly["spec"]?["user"] = nil
            groupOnly["spec"]?["groups"] = ["system:authenticated"]
            let byGroup = await call(
                server, "POST", "/apis/authorization.k8s.io/v1/subjectaccessreviews", token: server.adminToken, body: groupOnly)
            #expect(byGroup.json?["status"] == ["allowed": false])
            var nobody = body
            nobody["spec"]?["user"] = nil
            nobody["spec"]?["groups"] = nil
            let invalid = await call(
                server, "POST", "/apis/authorization.k8s.io/v1/subjectaccessreviews", token: server.adminToken, body: nobody)
            #expect(
                invalid.status == 422
                    && invalid.message.hasSuffix(#"spec.user: Invalid value: "": at least one of user or group must be specified"#))
            // LocalSubjectAccessReview: the namespace of the path.
            var local = body
            local["kind"] = "LocalSubjectAccessReview"
            let wrong = await call(
                server, "POST", "/apis/authorization.k8s.io/v1/namespaces/default/localsubjectaccessreviews", token: server.adminToken,
                body: local)
            #expect(wrong.status == 400 && wrong.message == "spec.resourceAttributes.namespace must match namespace: default")
        }
    }

    @Test func selfSubjectRulesReviews() async throws {
        try await withServer { server, _ in
            let token = try await readerInShop(server)
            let path = "/apis/authorization.k8s.io/v1/selfsubjectrulesreviews"
            let body: JSONValue = [
                "apiVersion": "authorization.k8s.io/v1", "kind": "SelfSubjectRulesReview", "spec": ["namespace": "shop"],
            ]
            let answer = await call(server, "POST", path, token: token, body: body)
            let status = try #require(answer.json?["status"])
            let resourceRules = status["resourceRules"]?.arrayValue ?? []
            #expect(resourceRules.contains(["verbs": ["get", "list"], "apiGroups": [""], "resources": ["pods"]]))
            #expect(
                resourceRules.contains([
                    "verbs": ["create"], "apiGroups": ["authorization.k8s.io"],
                    "resources": ["selfsubjectaccessreviews", "selfsubjectrulesreviews"],
                ]))
            #expect(
                (status["nonResourceRules"]?.arrayValue ?? []).contains { $0["nonResourceURLs"]?.arrayValue?.contains("/apis/*") == true })
            #expect(status["incomplete"] == false)
            let elsewhere = await call(
                server, "POST", path, token: token, body: ["kind": "SelfSubjectRulesReview", "spec": ["namespace": "default"]])
            #expect(!(elsewhere.json?["status"]?["resourceRules"]?.arrayValue ?? []).contains { $0["resources"] == ["pods"] })
            let noNamespace = await call(server, "POST", path, token: token, body: ["kind": "SelfSubjectRulesReview", "spec": [:]])
            #expect(noNamespace.status == 400 && noNamespace.message == "no namespace on request")

            try await server.load(
                yaml: """
                    apiVersion: rbac.authorization.k8s.io/v1
                    kind: RoleBinding
                    metadata: {name: ghost, namespace: shop}
                    roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: ghost}
                    subjects: [{kind: ServiceAccount, name: robot, namespace: shop}]
                    """)
            let incomplete = await call(server, "POST", path, token: token, body: body)
            #expect(incomplete.json?["status"]?["incomplete"] == true)
            #expect(incomplete.json?["status"]?["evaluationError"] == #"role.rbac.authorization.k8s.io "ghost" not found"#)
        }
    }

    @Test func impersonationNeedsTheImpersonateVerb() async throws {
        try await withServer { server, _ in
            let token = try await readerInShop(server)
            let asRobot = ["impersonate-user": "system:serviceaccount:shop:robot"]
            // The admin acts as the ServiceAccount: its groups come with it.
            #expect(
                await whoamiAs(server, token: server.adminToken, headers: asRobot) == [
                    "username": "system:serviceaccount:shop:robot",
                    "groups": ["system:serviceaccounts", "system:serviceaccounts:shop", "system:authenticated"],
                ])
            #expect(await call(server, "GET", "/api/v1/namespaces/shop/pods", token: server.adminToken, headers: asRobot).status == 200)
            let refused = await call(server, "GET", "/api/v1/namespaces/shop/secrets", token: server.adminToken, headers: asRobot)
            #expect(
                refused.message
                    == #"secrets is forbidden: User "system:serviceaccount:shop:robot" cannot list resource "secrets" in API group "" in "#
                    + #"the namespace "shop""#
            )
            // Explicit groups replace the account's; system:authenticated is added.
            #expect(
                await whoamiAs(
                    server, token: server.adminToken,
                    headers: [
                        "impersonate-user": "jane", "impersonate-group": "devs, ops",
                        "impersonate-extra-scopes": "view", "impersonate-uid": "1234",
                    ]) == [
                        "username": "jane", "uid": "1234", "groups": ["devs", "ops", "system:authenticated"], "extra": ["scopes": ["view"]],
                    ])

            // The ServiceAccount may not impersonate anyone.
            let user = await call(server, "GET", "/api", token: token, headers: ["impersonate-user": "jane"])
            #expect(
                user.status == 403
                    && user.message
                        == #"users "jane" is forbidden: User "system:serviceaccount:shop:robot" cannot impersonate resource "users" in "#
                        + #"API group "" at the cluster scope"#
            )
            #expect(user.json?["details"] == ["name": "jane", "kind": "users"])
            let account = await call(
                server, "GET", "/api", token: token, headers: ["impersonate-user": "system:serviceaccount:default:builder"])
            #expect(
                account.message
                    == #"serviceaccounts "builder" is forbidden: User "system:serviceaccount:shop:robot" cannot impersonate resource "#
                    + #""serviceaccounts" in API group "" in the namespace "default""#
            )
            // With `impersonate` on the namespace's accounts (as the edit role has), only those.
            try await server.load(
                yaml: """
                    apiVersion: rbac.authorization.k8s.io/v1
                    kind: RoleBinding
                    metadata: {name: robot-edits, namespace: default}
                    roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: edit}
                    subjects: [{kind: ServiceAccount, name: robot, namespace: shop}]
                    """)
            #expect(
                await whoamiAs(server, token: token, headers: ["impersonate-user": "system:serviceaccount:default:builder"])?["username"]
                    == "system:serviceaccount:default:builder")
            let uid = await call(
                server, "GET", "/api", token: token,
                headers: ["impersonate-user": "system:serviceaccount:default:builder", "impersonate-uid": "1"])
            #expect(
                uid.message
                    == #"uids.authentication.k8s.io "1" is forbidden: User "system:serviceaccount:shop:robot" cannot impersonate resource "#
                    + #""uids" in API group "authentication.k8s.io" at the cluster scope"#
            )
            // Groups without a user are a server error, as the filter answers them.
            let groupsOnly = await call(server, "GET", "/api", token: server.adminToken, headers: ["impersonate-group": "devs"])
            #expect(groupsOnly.status == 500 && groupsOnly.text.contains("without impersonating a user"))
        }
    }

    func whoamiAs(_ server: KubeTestServer, token: String, headers: [String: String]) async -> JSONValue? {
        let answer = await call(
            server, "POST", "/apis/authentication.k8s.io/v1/selfsubjectreviews", token: token, headers: headers,
            body: ["apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"])
        return answer.status == 201 ? answer.json?["status"]?["userInfo"] : nil
    }
}
