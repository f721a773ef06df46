extension KubeClient {
    /// A bound token of a ServiceAccount for other services to authenticate it (a TokenRequest):
    /// scoped to `audiences` and valid for `expirationSeconds` (the API refuses less than 600).
    public func requestToken(
        serviceAccount name: String, namespace: String, audiences: [String],
        expirationSeconds: Int64 = 600
    ) async throws(KubeError) -> String {
        let path = "/api/v1/namespaces/\(APIResource.escape(namespace))/serviceaccounts/\(APIResource.escape(name))/token"
        let request: JSONValue = [
            "apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest",
            "spec": ["audiences": .array(audiences.map { .string($0) }), "expirationSeconds": .int(expirationSeconds)],
        ]
        let answer = try await json("POST", path, body: request, idempotent: false)
        guard let token = answer["status"]?["token"]?.stringValue, !token.isEmpty else {
            throw KubeError.invalidResponse("POST \(path): the TokenRequest came back without a token")
        }
        return token
    }
}
