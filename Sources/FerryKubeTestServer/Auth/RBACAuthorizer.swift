import FerryKube

/// kube-apiserver's authorizer chain as this server runs it: the privileged-group authorizer
/// (`system:masters` may do anything), then RBAC over the stored Roles, ClusterRoles and their
/// bindings (`plugin/pkg/auth/authorizer/rbac`: ClusterRoleBindings first, then the RoleBindings
/// of the request's namespace; the first rule that allows wins; nothing denies).
extension APIServerState {
    static let rbacGroup = "rbac.authorization.k8s.io"
    static let clusterRolesKey = StorageKey(group: rbacGroup, resource: "clusterroles")
    static let clusterRoleBindingsKey = StorageKey(group: rbacGroup, resource: "clusterrolebindings")
    static let rolesKey = StorageKey(group: rbacGroup, resource: "roles")
    static let roleBindingsKey = StorageKey(group: rbacGroup, resource: "rolebindings")

    struct Decision {
        var allowed: Bool
        /// Why (`RBAC: allowed by ...`), or what went wrong resolving rules (`RBAC: clusterrole... not found`).
        var reason: String
    }

    func authorize(_ attributes: RequestAttributes) -> Decision {
        if attributes.user.isPrivileged { return Decision(allowed: true, reason: "") }
        var errors: [String] = []
        var allowedBy: String?
        visitRules(for: attributes.user, namespace: attributes.namespace, errors: &errors) { source, rule in
            guard rule.allows(attributes) else { return true }
            allowedBy = source
            return false
        }
        if let allowedBy { return Decision(allowed: true, reason: "RBAC: allowed by \(allowedBy)") }
        return Decision(allowed: false, reason: errors.isEmpty ? "" : "RBAC: \(Self.aggregate(errors))")
    }

    /// Every rule that applies to `user` in `namespace` ("" for cluster-wide ones only), and
    /// the errors met resolving them (`RulesFor`).
    func rules(for user: UserInfo, namespace: String) -> (rules: [PolicyRule], errors: [String]) {
        var rules: [PolicyRule] = []
        var errors: [String] = []
        visitRules(for: user, namespace: namespace, errors: &errors) { _, rule in
            rules.append(rule)
            return true
        }
        return (rules, errors)
    }

    /// `utilerrors.NewAggregate(...).Error()`: one message as is, several deduplicated in brackets.
    static func aggregate(_ messages: [String]) -> String {
        var seen: [String] = []
        for message in messages where !seen.contains(message) { seen.append(message) }
        return seen.count == 1 ? seen[0] : "[" + seen.joined(separator: ", ") + "]"
    }

    /// `VisitRulesFor`: calls `visit(source, rule)` for each rule bound to the user until it returns false.
    func visitRules(
        for user: UserInfo, namespace: String, errors: inout [String], _ visit: (String, PolicyRule) -> Bool
    ) {
        for (key, binding) in (store[Self.clusterRoleBindingsKey] ?? [:]).sorted(by: { $0.key < $1.key }) {
            guard let subject = Self.appliesTo(user, binding, namespace: "") else { continue }
            let rules: [PolicyRule]
            switch roleReferenceRules(binding["roleRef"], bindingNamespace: "") {
            case .success(let found): rules = found
            case .failure(let error):
                errors.append(error.status.message)
                continue
            }
            let source = "ClusterRoleBinding \(PolicyRule.goQuoted(key.name)) of \(Self.roleRefDescription(binding)) to \(subject)"
            for rule in rules where !visit(source, rule) { return }
        }
        guard !namespace.isEmpty else { return }
        let bindings = (store[Self.roleBindingsKey] ?? [:]).filter { $0.key.namespace == namespace }.sorted { $0.key < $1.key }
        for (key, binding) in bindings {
            guard let subject = Self.appliesTo(user, binding, namespace: namespace) else { continue }
            let rules: [PolicyRule]
            switch roleReferenceRules(binding["roleRef"], bindingNamespace: namespace) {
            case .success(let found): rules = found
            case .failure(let error):
                errors.append(error.status.message)
                continue
            }
            let name = PolicyRule.goQuoted("\(key.name)/\(namespace)")
            let source = "RoleBinding \(name) of \(Self.roleRefDescription(binding)) to \(subject)"
            for rule in rules where !visit(source, rule) { return }
        }
    }

    static func roleRefDescription(_ binding: JSONValue) -> String {
        "\(binding["roleRef"]?["kind"]?.stringValue ?? "") \(PolicyRule.goQuoted(binding["roleRef"]?["name"]?.stringValue ?? ""))"
    }

    /// The rules of the role a binding refers to (`GetRoleReferenceRules`); a missing role is an
    /// error shaped like the listers' NotFound (`clusterrole.rbac.authorization.k8s.io "x" not found`).
    func roleReferenceRules(_ roleRef: JSONValue?, bindingNamespace: String) -> Result<[PolicyRule], APIError> {
        let name = roleRef?["name"]?.stringValue ?? ""
        switch roleRef?["kind"]?.stringValue {
        case "Role":
            guard let role = store[Self.rolesKey]?[ObjectKey(namespace: bindingNamespace, name: name)] else {
                return .failure(APIError(Self.listerNotFound("role", name)))
            }
            return .success(PolicyRule.rules(of: role))
        case "ClusterRole":
            guard let role = store[Self.clusterRolesKey]?[ObjectKey(namespace: "", name: name)] else {
                return .failure(APIError(Self.listerNotFound("clusterrole", name)))
            }
            return .success(PolicyRule.rules(of: role))
        case let kind:
            return .failure(
                APIError(
                    APIStatus(
                        code: 500, reason: "InternalError",
                        message: "unsupported role reference kind: \(PolicyRule.goQuoted(kind ?? ""))")))
        }
    }

    static func listerNotFound(_ resource: String, _ name: String) -> APIStatus {
        APIStatus(
            code: 404, reason: "NotFound", message: "\(resource).\(rbacGroup) \(PolicyRule.goQuoted(name)) not found",
            detailsName: name, detailsGroup: rbacGroup, detailsKind: resource)
    }

    /// The first subject of `binding` that names `user` (`appliesTo`), described as in RBAC's
    /// reasons (`Group "system:authenticated"`, `ServiceAccount "name/ns"`); nil when none does.
    static func appliesTo(_ user: UserInfo, _ binding: JSONValue, namespace: String) -> String? {
        for subject in binding["subjects"]?.arrayValue ?? [] {
            let name = subject["name"]?.stringValue ?? ""
            switch subject["kind"]?.stringValue {
            case "User":
                if user.name == name { return "User \(PolicyRule.goQuoted(name))" }
            case "Group":
                if user.groups.contains(name) { return "Group \(PolicyRule.goQuoted(name))" }
            case "ServiceAccount":
                let explicit = subject["namespace"]?.stringValue ?? ""
                let accountNamespace = explicit.isEmpty ? namespace : explicit
                guard !accountNamespace.isEmpty else { continue }
                if user.name == UserInfo.serviceAccountUsername(namespace: accountNamespace, name: name) {
                    return "ServiceAccount \(PolicyRule.goQuoted("\(name)/\(explicit.isEmpty ? namespace : explicit)"))"
                }
            default:
                continue
            }
        }
        return nil
    }
}
