import FerryKube
import FerryKubeTestServer
import Foundation
import Testing

/// ServiceAccount tokens (TokenRequest) as the API server issues them, and what a TokenReview
/// of them says.
@Suite struct TokenRequestTests {
    @Test func tokensAreIssuedForExistingServiceAccountsAndReviewed() async throws {
        try await withServer { server, client in
            _ = try await server.load(yaml: "apiVersion: v1\nkind: ServiceAccount\nmetadata: {name: agent, namespace: default}")
            let token = try await client.requestToken(serviceAccount: "agent", namespace: "default", audiences: ["cbt-service"])
            let review = try #require(await server.reviewToken(token))
            #expect(review.user == "system:serviceaccount:default:agent" && review.audiences == ["cbt-service"])
            #expect(await server.reviewToken(token + "x") == nil)
            let other = try await client.requestToken(serviceAccount: "agent", namespace: "default", audiences: ["cbt-service"])
            #expect(other != token, "each request gets its own token")

            await #expect(throws: KubeError.self) {
                _ = try await client.requestToken(serviceAccount: "nobody", namespace: "default", audiences: ["cbt-service"])
            }
            let (status, body) = await raw(
                client, "POST", "/api/v1/namespaces/default/serviceaccounts/nobody/token",
                body: Array(#"{"apiVersion":"authentication.k8s.io/v1","kind":"TokenRequest","spec":{}}"#.utf8))
            #expect(status == 404 && body?["reason"] == "NotFound")
            let (short, shortBody) = await raw(
                client, "POST", "/api/v1/namespaces/default/serviceaccounts/agent/token",
                body: Array(#"{"kind":"TokenRequest","spec":{"expirationSeconds":60}}"#.utf8))
            #expect(short == 422 && shortBody?["details"]?["causes"]?[0]?["field"] == "spec.expirationSeconds")
        }
    }
}
