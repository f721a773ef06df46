import FerryKube
import Foundation

/// How the test server authenticates requests (kube-apiserver's authenticator chain, as this
/// server configures it).
public struct AuthenticationOptions: Sendable {
    /// Which requests without credentials are admitted as `system:anonymous` (group
    /// `system:unauthenticated`); RBAC then decides what they may do.
    public enum AnonymousRequests: Sendable, Hashable {
        /// `--anonymous-auth=false`: every request without credentials is 401 Unauthorized.
        case rejected
        /// An `AuthenticationConfiguration` with `anonymous: {enabled: true, conditions: [{path: ...}]}`:
        /// anonymous only on these paths, 401 elsewhere.
        case paths(Set<String>)
        /// kube-apiserver's default (`--anonymous-auth=true`): anonymous everywhere, RBAC decides
        /// (bootstrap policy: `system:public-info-viewer` only, so everything else is 403).
        case everywhere
    }

    /// The token of the administrator (`system:admin`, group `system:masters`, which the
    /// privileged-group authorizer allows everything) that test set-up uses; nil generates one.
    public var adminToken: String?
    /// Further static bearer tokens and the user names they authenticate (as kube-apiserver's
    /// `--token-auth-file`; the users are in `system:authenticated` only).
    public var staticTokens: [String: String] = [:]
    /// Default: anonymous only on the paths `system:public-info-viewer` grants (health and version).
    public var anonymous = AnonymousRequests.paths(["/healthz", "/livez", "/readyz", "/version", "/version/"])
    /// The audiences of the API server itself (`--api-audiences`): a ServiceAccount token
    /// authenticates to the API only when issued for one of them.
    public var apiAudiences = ["https://kubernetes.default.svc"]

    public init() {}
}

extension KubeTestServer.Options {
    /// Static bearer tokens and the user names they authenticate (`authentication.staticTokens`).
    public var tokens: [String: String] {
        get { authentication.staticTokens }
        set { authentication.staticTokens = newValue }
    }
}

/// Authentication state kept by the server: the tokens it issued and the bookkeeping of the
/// controllers that RBAC and token Secrets need.
struct AuthState: Sendable {
    /// A token minted for a `kubernetes.io/service-account-token` Secret (`namespace/name`).
    var secretTokens: [String: APIServerState.ObjectKey] = [:]
    /// ClusterRoles changed since the aggregation controller last ran.
    var clusterRolesChanged = false
    /// Token Secrets created since the token controller last ran.
    var pendingTokenSecrets: [APIServerState.ObjectKey] = []
    /// The request being handled (its user checks RBAC writes for escalation).
    var caller: RequestAttributes?
}

extension APIServerState {
    static let administrator = "system:admin"
    static let serviceAccountsKey = StorageKey(group: "", resource: "serviceaccounts")
    static let secretsKey = StorageKey(group: "", resource: "secrets")

    enum Authentication {
        case authenticated(UserInfo)
        /// 401 Unauthorized.
        case unauthorized
    }

    /// The user a request authenticates as: a bearer token must be valid (otherwise 401, even
    /// where anonymous requests are admitted); without one, anonymous where the options allow it.
    func authenticate(_ request: APIRequest) -> Authentication {
        let header = request.headers["authorization"] ?? ""
        let parts = header.split(separator: " ", omittingEmptySubsequences: false)
        if parts.count == 2, parts[0].lowercased() == "bearer" {
            let token = String(parts[1]).trimmingCharacters(in: " \t")
            if !token.isEmpty {
                guard let user = userOf(token: token, audiences: options.authentication.apiAudiences) else { return .unauthorized }
                return .authenticated(user)
            }
        }
        switch options.authentication.anonymous {
        case .rejected: return .unauthorized
        case .everywhere: return .authenticated(.anonymous)
        case .paths(let paths): return paths.contains(request.path) ? .authenticated(.anonymous) : .unauthorized
        }
    }

    /// The user a bearer token stands for, nil when no authenticator knows it (or it is expired,
    /// for other audiences, or its ServiceAccount or Secret is gone).
    func userOf(token: String, audiences: [String]) -> UserInfo? {
        if token == options.authentication.adminToken {
            return UserInfo(name: Self.administrator, groups: [UserInfo.mastersGroup, UserInfo.authenticatedGroup])
        }
        if let name = options.authentication.staticTokens[token] {
            return UserInfo(name: name, groups: [UserInfo.authenticatedGroup])
        }
        if let issued = issuedTokens[token] {
            guard issued.expires > Date(), !Set(issued.audiences).isDisjoint(with: audiences),
                serviceAccountUID(namespace: issued.namespace, name: issued.name) == issued.uid
            else { return nil }
            return .serviceAccount(namespace: issued.namespace, name: issued.name, uid: issued.uid)
        }
        if let key = auth.secretTokens[token] {
            // A legacy token lives as long as its Secret and its ServiceAccount (same uid).
            guard let secret = store[Self.secretsKey]?[key], secret["data"]?["token"]?.stringValue == Self.base64(token),
                let account = secret["metadata"]?["annotations"]?["kubernetes.io/service-account.name"]?.stringValue,
                let uid = serviceAccountUID(namespace: key.namespace, name: account),
                uid == secret["metadata"]?["annotations"]?["kubernetes.io/service-account.uid"]?.stringValue
            else { return nil }
            return .serviceAccount(namespace: key.namespace, name: account, uid: uid)
        }
        return nil
    }

    func serviceAccountUID(namespace: String, name: String) -> String? {
        store[Self.serviceAccountsKey]?[ObjectKey(namespace: namespace, name: name)]?["metadata"]?["uid"]?.stringValue
    }

    static func base64(_ text: String) -> String { Data(text.utf8).base64EncodedString() }

    static let unauthorized = APIStatus(code: 401, reason: "Unauthorized", message: "Unauthorized")
}
