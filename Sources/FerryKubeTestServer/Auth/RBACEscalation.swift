import FerryKube

/// RBAC's escalation prevention (`pkg/registry/rbac/*/policybased`): a Role or ClusterRole may be
/// written only with rules its author holds (unless `escalate` on it), a binding only to a role
/// whose rules its author holds (unless `bind` on that role); `system:masters` may do anything.
extension APIServerState {
    /// Full authority (`* on *.*` and every URL): what setting an aggregationRule needs.
    static let fullAuthority = [
        PolicyRule(verbs: ["*"], apiGroups: ["*"], resources: ["*"]), PolicyRule(verbs: ["*"], nonResourceURLs: ["*"]),
    ]

    /// Runs before a request stores `object` (replacing `old`, if any); outside requests
    /// (fixtures, controllers) there is no caller and nothing to check.
    func checkRBACWrite(entry: ResourceRegistry.Entry, object: JSONValue, old: JSONValue?) throws(APIError) {
        guard entry.resource.group == Self.rbacGroup, let request = auth.caller, !request.user.isPrivileged else { return }
        let resource = entry.resource.name
        let name = object["metadata"]?["name"]?.stringValue ?? ""
        let namespace = request.namespace
        func forbidden(_ message: String) -> APIError {
            let qualified = "\(resource).\(Self.rbacGroup) \(PolicyRule.goQuoted(name))"
            return APIError(
                APIStatus(
                    code: 403, reason: "Forbidden", message: "\(qualified) is forbidden: \(message)",
                    detailsName: name, detailsGroup: Self.rbacGroup, detailsKind: resource))
        }
        if let old, Self.isOnlyMutatingGCFields(object, old) { return }
        switch resource {
        case "roles", "clusterroles":
            var escalate = RequestAttributes(user: request.user, verb: "escalate", isResourceRequest: true)
            escalate.apiGroup = Self.rbacGroup
            escalate.apiVersion = "*"
            escalate.resource = resource
            escalate.name = request.name
            escalate.namespace = namespace
            if authorize(escalate).allowed { return }
            if let message = escalation(by: request.user, namespace: namespace, granting: PolicyRule.rules(of: object)) {
                throw forbidden(message)
            }
            let aggregating = object["aggregationRule"].map { !$0.isNull } ?? false || old?["aggregationRule"].map { !$0.isNull } ?? false
            if resource == "clusterroles", aggregating,
                escalation(by: request.user, namespace: namespace, granting: Self.fullAuthority) != nil
            {
                throw forbidden("must have cluster-admin privileges to use the aggregationRule")
            }
        case "rolebindings", "clusterrolebindings":
            let roleRef = object["roleRef"] ?? [:]
            var bind = RequestAttributes(user: request.user, verb: "bind", isResourceRequest: true)
            bind.namespace = namespace
            bind.apiGroup = roleRef["apiGroup"]?.stringValue ?? ""
            bind.name = roleRef["name"]?.stringValue ?? ""
            switch roleRef["kind"]?.stringValue {
            case "ClusterRole": bind.resource = "clusterroles"
            case "Role": bind.resource = "roles"
            default: bind.resource = ""
            }
            if !bind.resource.isEmpty, authorize(bind).allowed { return }
            switch roleReferenceRules(roleRef, bindingNamespace: namespace) {
            case .failure(let error): throw forbidden(error.status.message)
            case .success(let rules):
                if let message = escalation(by: request.user, namespace: namespace, granting: rules) { throw forbidden(message) }
            }
        default:
            return
        }
    }

    /// `ConfirmNoEscalation`: nil when `user` holds every rule in `rules` in `namespace`,
    /// otherwise the message naming the rights it lacks.
    func escalation(by user: UserInfo, namespace: String, granting rules: [PolicyRule]) -> String? {
        let (owned, errors) = self.rules(for: user, namespace: namespace)
        let missing = PolicyRule.uncovered(by: owned, rules)
        guard !missing.isEmpty else { return nil }
        let lines = Set(PolicyRule.compact(missing).map(\.compactString)).sorted()
        var message =
            "user \(PolicyRule.goQuoted(user.name)) (groups=\(PolicyRule.quotedList(user.groups))) is attempting to grant RBAC "
            + "permissions not currently held:\n" + lines.joined(separator: "\n")
        if !errors.isEmpty { message += "; resolution errors: [\(Self.aggregate(errors))]" }
        return message
    }

    /// Whether an update changes only what the garbage collector changes (owner references,
    /// finalizers), which needs no escalation check (`IsOnlyMutatingGCFields`).
    static func isOnlyMutatingGCFields(_ object: JSONValue, _ old: JSONValue) -> Bool {
        var copy = object
        for field in ["ownerReferences", "finalizers", "selfLink", "managedFields", "resourceVersion"] {
            copy.setValue(old["metadata"]?[field], at: ["metadata", field])
        }
        return copy == old
    }
}
