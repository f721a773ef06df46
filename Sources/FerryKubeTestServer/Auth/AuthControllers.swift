import FerryKube
import Foundation

/// What kube-controller-manager does for authentication and RBAC, run after every request and
/// load: the ClusterRole aggregation controller (rules of an aggregated ClusterRole = the union
/// of the rules of the ClusterRoles its `aggregationRule` selects, in name order) and the token
/// controller (a `kubernetes.io/service-account-token` Secret gets `token`, `ca.crt`, `namespace`
/// and the account's uid; one whose ServiceAccount does not exist is deleted).
extension APIServerState {
    /// Notes the stored changes the controllers act on (called for every recorded event). Token
    /// Secrets count when created through the API: fixtures are loaded as etcd holds them (and
    /// no controller here creates the `default` ServiceAccounts they usually name).
    func noteForControllers(_ event: StoredEvent) {
        let name = event.object["metadata"]?["name"]?.stringValue ?? ""
        noteTermination(
            event.key, ObjectKey(namespace: namespaceOf(event.object), name: name), event.type == "DELETED" ? nil : event.object)
        if event.key == Self.clusterRolesKey { auth.clusterRolesChanged = true }
        if event.key == Self.secretsKey, event.type == "ADDED", auth.caller != nil,
            event.object["type"]?.stringValue == "kubernetes.io/service-account-token"
        {
            let name = event.object["metadata"]?["name"]?.stringValue ?? ""
            auth.pendingTokenSecrets.append(ObjectKey(namespace: namespaceOf(event.object), name: name))
        }
    }

    func runControllers() {
        if auth.clusterRolesChanged { aggregateClusterRoles() }
        if !auth.pendingTokenSecrets.isEmpty { populateTokenSecrets() }
        runDeletionControllers()
    }

    /// The kube-apiserver bootstrap RBAC policy as stored objects (uid, resourceVersion from
    /// `clock`, aggregated rules filled in), for the server's start-up.
    static func bootstrapObjects(clock: inout UInt64) -> [(StorageKey, ObjectKey, JSONValue)] {
        var roles: [ObjectKey: JSONValue] = [:]
        for role in BootstrapPolicy.clusterRoles {
            roles[ObjectKey(namespace: "", name: role["metadata"]?["name"]?.stringValue ?? "")] = role
        }
        for _ in 0..<4 {
            for (key, role) in roles {
                if let rules = aggregatedRules(of: key, role, among: roles) { roles[key]?["rules"] = .array(rules) }
            }
        }
        var objects = roles.sorted { $0.key < $1.key }.map { (Self.clusterRolesKey, $0.key, $0.value) }
        for binding in BootstrapPolicy.clusterRoleBindings {
            let key = ObjectKey(namespace: "", name: binding["metadata"]?["name"]?.stringValue ?? "")
            objects.append((Self.clusterRoleBindingsKey, key, binding))
        }
        return objects.map { storageKey, key, object in
            clock += 1
            var stored = object
            stored.setValue(.string(UUID().uuidString.lowercased()), at: ["metadata", "uid"])
            stored.setValue(.string(String(clock)), at: ["metadata", "resourceVersion"])
            stored.setValue(.string(timestamp()), at: ["metadata", "creationTimestamp"])
            return (storageKey, key, stored)
        }
    }

    /// The rules of an aggregated ClusterRole: those of every other ClusterRole its selectors
    /// match, in name order, each once; nil when `role` has no aggregationRule.
    static func aggregatedRules(of key: ObjectKey, _ role: JSONValue, among roles: [ObjectKey: JSONValue]) -> [JSONValue]? {
        guard let rule = role["aggregationRule"], !rule.isNull else { return nil }
        var rules: [JSONValue] = []
        for selectorObject in rule["clusterRoleSelectors"]?.arrayValue ?? [] {
            guard let selector = try? LabelSelector(object: selectorObject) else { continue }
            for (otherKey, other) in roles.sorted(by: { $0.key < $1.key }) where otherKey != key {
                guard selector.matches(other["metadata"]?["labels"]?.stringMap ?? [:]) else { continue }
                for item in other["rules"]?.arrayValue ?? [] where !rules.contains(item) { rules.append(item) }
            }
        }
        return rules
    }

    func aggregateClusterRoles() {
        guard let entry = registry.entry(group: Self.rbacGroup, kind: "ClusterRole") else { return }
        // Aggregated roles can select each other (view → edit → admin): repeat until nothing changes.
        for _ in 0..<16 {
            auth.clusterRolesChanged = false
            var changed = false
            for key in (store[Self.clusterRolesKey] ?? [:]).keys.sorted() {
                guard let current = store[Self.clusterRolesKey]?[key],
                    let rules = Self.aggregatedRules(of: key, current, among: store[Self.clusterRolesKey] ?? [:]),
                    (current["rules"]?.arrayValue ?? []) != rules
                else { continue }
                var updated = current
                updated["rules"] = .array(rules)
                if (try? storeUpdate(entry: entry, key: key, old: current, new: updated)) != nil { changed = true }
            }
            if !changed && !auth.clusterRolesChanged { return }
        }
    }

    func populateTokenSecrets() {
        let pending = auth.pendingTokenSecrets
        auth.pendingTokenSecrets = []
        guard let secrets = registry.entry(group: "", kind: "Secret") else { return }
        for key in pending {
            guard let secret = store[Self.secretsKey]?[key], (secret["data"]?["token"]?.stringValue ?? "").isEmpty else { continue }
            let account = secret["metadata"]?["annotations"]?["kubernetes.io/service-account.name"]?.stringValue ?? ""
            guard let uid = serviceAccountUID(namespace: key.namespace, name: account) else {
                _ = delete(entry: secrets, key: key, propagation: "Background")
                continue
            }
            let token = "ferry-testkube-secret-\(UUID().uuidString.lowercased())"
            var updated = secret
            updated.setValue(.string(uid), at: ["metadata", "annotations", "kubernetes.io/service-account.uid"])
            updated.setValue(.string(Self.base64(token)), at: ["data", "token"])
            updated.setValue(.string(Self.base64(key.namespace)), at: ["data", "namespace"])
            updated.setValue(.string(Self.base64(Self.clusterCertificate)), at: ["data", "ca.crt"])
            if (try? storeUpdate(entry: secrets, key: key, old: secret, new: updated)) != nil {
                auth.secretTokens[token] = key
            }
        }
    }

    /// What the token controller puts in `ca.crt`: this server serves plain HTTP, so no real
    /// certificate authority exists; a placeholder stands in for it.
    static let clusterCertificate = "# ferry-testkube serves plain HTTP: no cluster CA\n"
}

extension APIServerState {
    /// Loading a fixture that holds one of the bootstrap RBAC objects (a recorded `view`
    /// ClusterRole, say) replaces the server's own, as restoring etcd would.
    func replaceBootstrapObject(entry: ResourceRegistry.Entry, name: String) {
        guard entry.resource.group == Self.rbacGroup, !entry.resource.namespaced else { return }
        let key = ObjectKey(namespace: "", name: name)
        guard let current = store[entry.storageKey]?[key],
            current["metadata"]?["labels"]?["kubernetes.io/bootstrapping"]?.stringValue == "rbac-defaults"
        else { return }
        store[entry.storageKey]?.removeValue(forKey: key)
        if let uid = current["metadata"]?["uid"]?.stringValue { uidIndex.removeValue(forKey: uid) }
    }
}
