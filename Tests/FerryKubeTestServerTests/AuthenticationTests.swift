import FerryKube
import Foundation
import Testing

@testable import FerryKubeTestServer

/// Who requests come from. Each test names the real answer it mirrors: kube-apiserver's
/// authentication filter answers a missing or unknown credential with
/// `NewUnauthorized("Unauthorized")` (401, reason Unauthorized, message "Unauthorized"; a bad
/// bearer token is 401 even where anonymous requests are admitted, `union.NewFailOnError`);
/// ServiceAccount tokens authenticate as `system:serviceaccount:NS:NAME` in
/// `system:serviceaccounts`, `system:serviceaccounts:NS` and `system:authenticated`
/// (Kubernetes documentation, "Authenticating": service account tokens).
@Suite struct AuthenticationTests {
    static let unauthorized: JSONValue = [
        "kind": "Status", "apiVersion": "v1", "metadata": [:], "status": "Failure", "message": "Unauthorized",
        "reason": "Unauthorized", "code": 401,
    ]

    @Test func requestsWithoutValidCredentialsAre401ExceptOnPublicInformation() async throws {
        try await withServer { server, _ in
            for path in ["/api", "/apis/apps/v1", "/api/v1/namespaces/default/pods", "/openapi/v3", "/metrics", "/"] {
                let answer = await call(server, "GET", path, token: nil)
                #expect(answer.status == 401 && answer.json == Self.unauthorized, "\(path): \(answer.text)")
            }
            // An AuthenticationConfiguration admitting anonymous requests on the paths
            // system:public-info-viewer grants: health and version answer.
            #expect(await call(server, "GET", "/healthz", token: nil).text == "ok")
            #expect(await call(server, "GET", "/version", token: nil).json?["gitVersion"] != nil)
            // A token nobody issued is 401 everywhere, public paths included.
            #expect(await call(server, "GET", "/healthz", token: "forged").json == Self.unauthorized)
            #expect(await call(server, "GET", "/api", token: server.adminToken).status == 200)
        }
    }

    @Test func anonymousEverywhereMeetsTheBootstrapPolicy() async throws {
        var options = KubeTestServer.Options()
        options.authentication.anonymous = .everywhere
        try await withServer(options: options) { server, _ in
            // system:discovery is bound to system:authenticated only (since 1.14), so anonymous
            // discovery is 403 with the non-resource message `cannot get path`.
            let discovery = await call(server, "GET", "/api", token: nil)
            #expect(discovery.status == 403 && discovery.message == #"forbidden: User "system:anonymous" cannot get path "/api""#)
            #expect(discovery.json?["reason"] == "Forbidden" && discovery.json?["details"] == nil)
            let pods = await call(server, "GET", "/api/v1/namespaces/default/pods", token: nil)
            #expect(
                pods.message
                    == #"pods is forbidden: User "system:anonymous" cannot list resource "pods" in API group "" in the namespace "default""#
            )
            #expect(await call(server, "GET", "/version", token: nil).status == 200)
            let who = await whoami(server, token: nil)
            #expect(who == nil, "system:basic-user is bound to authenticated users only")
        }
        var rejecting = KubeTestServer.Options()
        rejecting.authentication.anonymous = .rejected
        try await withServer(options: rejecting) { server, _ in
            #expect(await call(server, "GET", "/healthz", token: nil).json == Self.unauthorized, "--anonymous-auth=false")
        }
    }

    @Test func adminAndStaticTokens() async throws {
        var options = KubeTestServer.Options()
        options.authentication.adminToken = "root-token"
        options.tokens = ["ops-token": "ops"]
        try await withServer(options: options) { server, _ in
            #expect(server.adminToken == "root-token" && server.kubeconfig().contains("token: root-token"))
            #expect(
                await whoami(server, token: "root-token") == [
                    "username": "system:admin", "groups": ["system:masters", "system:authenticated"],
                ])
            #expect(await whoami(server, token: "ops-token") == ["username": "ops", "groups": ["system:authenticated"]])
            let denied = await call(server, "GET", "/api/v1/secrets", token: "ops-token")
            #expect(
                denied.message == #"secrets is forbidden: User "ops" cannot list resource "secrets" in API group "" at the cluster scope"#)
        }
    }

    @Test func tokenRequestTokensAuthenticateAsTheirServiceAccountWhileItExists() async throws {
        try await withServer { server, client in
            try await server.load(yaml: "apiVersion: v1\nkind: ServiceAccount\nmetadata: {name: robot, namespace: default}")
            let account = try #require(await server.object(apiVersion: "v1", kind: "ServiceAccount", namespace: "default", name: "robot"))
            let token = try await client.requestToken(serviceAccount: "robot", namespace: "default", audiences: [])
            #expect(
                await whoami(server, token: token) == [
                    "username": "system:serviceaccount:default:robot", "uid": .string(account.uid ?? ""),
                    "groups": ["system:serviceaccounts", "system:serviceaccounts:default", "system:authenticated"],
                ])
            // A token for another audience (a CSI SnapshotMetadata service) is not one for the API.
            let scoped = try await client.requestToken(serviceAccount: "robot", namespace: "default", audiences: ["cbt.example.com"])
            #expect(await call(server, "GET", "/api", token: scoped).status == 401)
            let review = await call(
                server, "POST", "/apis/authentication.k8s.io/v1/tokenreviews", token: server.adminToken,
                body: [
                    "kind": "TokenReview", "apiVersion": "authentication.k8s.io/v1",
                    "spec": ["token": .string(scoped), "audiences": ["cbt.example.com"]],
                ])
            #expect(review.status == 201 && review.json?["status"]?["authenticated"] == true)
            #expect(review.json?["status"]?["user"]?["username"] == "system:serviceaccount:default:robot")
            #expect(review.json?["status"]?["audiences"] == ["cbt.example.com"])

            // Deleting the account invalidates its tokens; a new account of the same name has
            // another uid and does not revive them.
            await server.delete(apiVersion: "v1", kind: "ServiceAccount", namespace: "default", name: "robot")
            #expect(await call(server, "GET", "/api", token: token).json == Self.unauthorized)
            try await server.load(yaml: "apiVersion: v1\nkind: ServiceAccount\nmetadata: {name: robot, namespace: default}")
            #expect(await call(server, "GET", "/api", token: token).status == 401)
            let fresh = try await server.token(serviceAccount: "robot", namespace: "default")
            #expect(await call(server, "GET", "/api", token: fresh).status == 200)
        }
    }

    /// The token controller fills a `kubernetes.io/service-account-token` Secret (Kubernetes
    /// documentation, "Manually create a long-lived API token for a ServiceAccount": data.token,
    /// data.ca.crt, data.namespace) and deletes one whose account does not exist.
    @Test func serviceAccountTokenSecretsAreFilledAndAuthenticate() async throws {
        try await withServer { server, client in
            try await server.load(yaml: "apiVersion: v1\nkind: ServiceAccount\nmetadata: {name: build-robot, namespace: default}")
            let secrets = try await client.resource(apiVersion: "v1", kind: "Secret")
            var secret = KubeObject(
                apiVersion: "v1", kind: "Secret", namespace: "default", name: "build-robot-secret",
                body: ["type": "kubernetes.io/service-account-token"])
            secret.annotations = ["kubernetes.io/service-account.name": "build-robot"]
            _ = try await client.create(secrets, secret)
            let filled = try await client.get(secrets, namespace: "default", name: "build-robot-secret")
            let account = try #require(
                await server.object(apiVersion: "v1", kind: "ServiceAccount", namespace: "default", name: "build-robot"))
            #expect(filled.annotations["kubernetes.io/service-account.uid"] == account.uid)
            #expect(Set(filled["data"]?.objectValue?.keys.map { $0 } ?? []) == ["token", "ca.crt", "namespace"])
            let token = String(decoding: Data(base64Encoded: filled["data"]?["token"]?.stringValue ?? "") ?? Data(), as: UTF8.self)
            #expect(await whoami(server, token: token)?["username"] == "system:serviceaccount:default:build-robot")
            _ = try await client.delete(secrets, namespace: "default", name: "build-robot-secret")
            #expect(await call(server, "GET", "/api", token: token).status == 401, "the token lives as long as its Secret")

            var orphan = secret
            orphan.name = "nobody-secret"
            orphan.annotations = ["kubernetes.io/service-account.name": "nobody"]
            _ = try await client.create(secrets, orphan)
            await #expect(throws: KubeError.self) { try await client.get(secrets, namespace: "default", name: "nobody-secret") }
        }
    }
}
