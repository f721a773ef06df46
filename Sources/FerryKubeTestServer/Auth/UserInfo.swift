/// Who a request comes from, as kube-apiserver's authenticators describe a user
/// (`k8s.io/apiserver/pkg/authentication/user.Info`): name, uid, groups and extra values.
public struct UserInfo: Sendable, Hashable {
    public var name: String
    public var uid: String
    public var groups: [String]
    public var extra: [String: [String]]

    public init(name: String, uid: String = "", groups: [String] = [], extra: [String: [String]] = [:]) {
        self.name = name
        self.uid = uid
        self.groups = groups
        self.extra = extra
    }

    /// `system:masters`: the group the privileged-group authorizer allows everything, before RBAC.
    public static let mastersGroup = "system:masters"
    public static let authenticatedGroup = "system:authenticated"
    public static let unauthenticatedGroup = "system:unauthenticated"
    public static let serviceAccountsGroup = "system:serviceaccounts"
    public static let anonymousName = "system:anonymous"
    static let serviceAccountPrefix = "system:serviceaccount:"

    /// The user of requests that carry no credentials (when anonymous requests are admitted).
    public static let anonymous = UserInfo(name: anonymousName, groups: [unauthenticatedGroup])

    /// The identity a ServiceAccount's tokens authenticate as: `system:serviceaccount:NS:NAME`
    /// in `system:serviceaccounts`, `system:serviceaccounts:NS` and `system:authenticated`.
    public static func serviceAccount(namespace: String, name: String, uid: String = "") -> UserInfo {
        UserInfo(
            name: serviceAccountUsername(namespace: namespace, name: name), uid: uid,
            groups: serviceAccountGroups(namespace: namespace) + [authenticatedGroup])
    }

    static func serviceAccountUsername(namespace: String, name: String) -> String {
        "\(serviceAccountPrefix)\(namespace):\(name)"
    }

    static func serviceAccountGroups(namespace: String) -> [String] {
        [serviceAccountsGroup, "\(serviceAccountsGroup):\(namespace)"]
    }

    /// Namespace and name of a ServiceAccount user name (`system:serviceaccount:NS:NAME`), as
    /// `serviceaccount.SplitUsername` accepts it; nil for any other name.
    static func splitServiceAccount(_ username: String) -> (namespace: String, name: String)? {
        guard username.hasPrefix(serviceAccountPrefix) else { return nil }
        let parts = username.dropFirst(serviceAccountPrefix.count).split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count == 2, APIServerState.isDNSSubdomain(String(parts[0])), APIServerState.isDNSSubdomain(String(parts[1])) else {
            return nil
        }
        return (String(parts[0]), String(parts[1]))
    }

    var isPrivileged: Bool { groups.contains(Self.mastersGroup) }
}
