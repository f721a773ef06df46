import FerryKube

/// Identities tests connect as: the admin (what `clientConfiguration()` and `kubeconfig()` use
/// by default), or a ServiceAccount through a token the server issues for it.
extension KubeTestServer {
    /// The admin's bearer token (`system:admin` in `system:masters`): `Options.authentication.adminToken`
    /// or one generated at start.
    public var adminToken: String { options.authentication.adminToken ?? "" }

    /// A bearer token of the ServiceAccount `namespace/name` (which must exist), as a TokenRequest
    /// for the API server's audience would issue it; it authenticates as
    /// `system:serviceaccount:NAMESPACE:NAME` and stops working when the account is deleted.
    public func token(serviceAccount name: String, namespace: String, expirationSeconds: Int = 3600) async throws -> String {
        try await state.serviceAccountToken(namespace: namespace, name: name, seconds: expirationSeconds)
    }

    /// A client configuration acting as the ServiceAccount `namespace/name` (default namespace
    /// `defaultNamespace`, else the account's).
    public func clientConfiguration(serviceAccount name: String, namespace: String, defaultNamespace: String? = nil) async throws
        -> KubeClientConfiguration
    {
        clientConfiguration(namespace: defaultNamespace ?? namespace, token: try await token(serviceAccount: name, namespace: namespace))
    }

    /// A kubeconfig acting as the ServiceAccount `namespace/name`.
    public func kubeconfig(serviceAccount name: String, namespace: String, defaultNamespace: String? = nil) async throws -> String {
        kubeconfig(token: try await token(serviceAccount: name, namespace: namespace), namespace: defaultNamespace ?? namespace)
    }
}
