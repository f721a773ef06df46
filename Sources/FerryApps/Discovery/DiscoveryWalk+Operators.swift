import FerryKube

extension DiscoveryWalk {
    static var olmGroup: String { "operators.coreos.com" }

    mutating func seedOperator(_ reference: OperatorReference) async throws(KubeError) {
        var ownedCRDs: [String] = []
        switch reference.installation {
        case .subscription(let name):
            ownedCRDs = try await seedSubscription(name, required: true) ?? []
        case .helmRelease(let name):
            ownedCRDs = try await seedHelmOperator(name)
        case .deployment(let name):
            ownedCRDs = try await seedDeploymentOperator(name, required: true) ?? []
        case .named(let name):
            if let crds = try await seedSubscription(name, required: false) {
                ownedCRDs = crds
            } else if let crds = try await seedClusterServiceVersion(named: name, subscription: nil) {
                ownedCRDs = crds
            } else if try await helmReleaseExists(name) {
                ownedCRDs = try await seedHelmOperator(name)
            } else if let crds = try await seedDeploymentOperator(name, required: false) {
                ownedCRDs = crds
            } else {
                issues.insert(
                    DiscoveryIssue(
                        kind: .missing, subject: "operator \(name)",
                        message: "no Subscription, ClusterServiceVersion, Helm release or Deployment of this name in \(scope)"))
                return
            }
        }
        try await seedCustomResources(ofCRDs: ownedCRDs, only: reference.customResources)
    }

    /// Subscription → its installed CSV. Nil when there is no such Subscription.
    mutating func seedSubscription(_ name: String, required: Bool) async throws(KubeError) -> [String]? {
        guard let resource = resource(Self.olmGroup, "Subscription") else {
            if required {
                issues.insert(
                    DiscoveryIssue(
                        kind: .unknownKind, subject: "Subscription \(name)", message: "OLM (operators.coreos.com) is not installed"))
            }
            return nil
        }
        for namespace in searchNamespaces {
            let subscriptions: [KubeObject]
            if let namespace {
                guard let one = try await fetch(resource, namespace: namespace, name: name, notFound: required ? .missing : nil) else {
                    continue
                }
                subscriptions = [one]
            } else {
                subscriptions = try await cachedList(resource, namespace: nil).filter { $0.name == name }
            }
            for subscription in subscriptions {
                include(subscription, resource: resource, reason: .operatorSubscription(name))
                try await seedOperatorGroups(namespace: subscription.namespace ?? "", for: subscription.reference)
                guard
                    let csvName = subscription["status"]?["installedCSV"]?.stringValue ?? subscription["status"]?["currentCSV"]?.stringValue
                else {
                    issues.insert(
                        DiscoveryIssue(
                            kind: .missing, subject: subscription.reference.description,
                            message: "the Subscription has not installed a ClusterServiceVersion yet"))
                    return []
                }
                return try await seedClusterServiceVersion(named: csvName, subscription: name, namespace: subscription.namespace) ?? []
            }
        }
        return nil
    }

    mutating func seedOperatorGroups(namespace: String, for owner: ObjectReference) async throws(KubeError) {
        guard let resource = resource(Self.olmGroup, "OperatorGroup") else { return }
        for group in try await cachedList(resource, namespace: namespace) {
            include(group, resource: resource, reason: .operatorGroup(owner))
        }
    }

    /// A ClusterServiceVersion (by exact name, or `<name>.v*`): its Deployments, service accounts
    /// and the RBAC OLM made for them, and its owned CRDs. Returns the owned CRD names.
    mutating func seedClusterServiceVersion(named name: String, subscription: String?, namespace: String? = nil) async throws(KubeError)
        -> [String]?
    {
        guard let csvResource = resource(Self.olmGroup, "ClusterServiceVersion") else { return nil }
        var csv: KubeObject?
        for ns in namespace.map({ [$0] }) ?? searchNamespaces {
            if let ns, let exact = try await fetch(csvResource, namespace: ns, name: name, notFound: subscription == nil ? nil : .missing) {
                csv = exact
                break
            }
            let candidates = try await cachedList(csvResource, namespace: ns)
                .filter { $0.name == name || $0.name.hasPrefix("\(name).v") }
                .filter { $0.labels["olm.copiedFrom"] == nil }
            if let match = candidates.sorted(by: { $0.name < $1.name }).last {
                csv = match
                break
            }
        }
        guard let csv else { return nil }
        include(csv, resource: csvResource, reason: .operatorClusterServiceVersion(subscription: subscription))
        if subscription == nil { try await seedOperatorGroups(namespace: csv.namespace ?? "", for: csv.reference) }
        let namespace = csv.namespace
        let install = csv["spec"]?["install"]?["spec"] ?? [:]
        for deployment in install["deployments"]?.arrayValue ?? [] {
            guard let deploymentName = deployment["name"]?.stringValue else { continue }
            try await include(
                group: "apps", kind: "Deployment", namespace: namespace, name: deploymentName,
                reason: .operatorDeployment(installedBy: "ClusterServiceVersion \(csv.name)"))
        }
        let permissions = (install["permissions"]?.arrayValue ?? []) + (install["clusterPermissions"]?.arrayValue ?? [])
        for serviceAccount in Set(permissions.compactMap { $0["serviceAccountName"]?.stringValue }).sorted() {
            if let account = try await include(
                group: "", kind: "ServiceAccount", namespace: namespace, name: serviceAccount,
                reason: .operatorRBAC(serviceAccount: serviceAccount))
            {
                try await includeOperatorRBAC(of: account.reference)
            }
        }
        // OLM labels the Roles, ClusterRoles and bindings it generates with the CSV as owner.
        let ownerLabel = "olm.owner=\(csv.name)"
        for kind in ["Role", "RoleBinding", "ClusterRole", "ClusterRoleBinding"] {
            guard let rbac = resource("rbac.authorization.k8s.io", kind) else { continue }
            for object in try await cachedList(rbac, namespace: rbac.namespaced ? namespace : nil, labelSelector: ownerLabel) {
                include(object, resource: rbac, reason: .operatorRBAC(serviceAccount: "of ClusterServiceVersion \(csv.name)"))
            }
        }
        var owned: [String] = []
        for crd in csv["spec"]?["customresourcedefinitions"]?["owned"]?.arrayValue ?? [] {
            guard let crdName = crd["name"]?.stringValue else { continue }
            owned.append(crdName)
            try await include(
                group: "apiextensions.k8s.io", kind: "CustomResourceDefinition", namespace: nil, name: crdName,
                reason: .operatorOwnedCRD(installedBy: "ClusterServiceVersion \(csv.name)"))
        }
        return owned
    }

    mutating func helmReleaseExists(_ name: String) async throws(KubeError) -> Bool {
        guard let secrets = resource("", "Secret"), let configMaps = resource("", "ConfigMap") else { return false }
        for namespace in searchNamespaces {
            for resource in [secrets, configMaps]
            where !(try await cachedList(resource, namespace: namespace, labelSelector: "owner=helm,name=\(name)")).isEmpty {
                return true
            }
        }
        return false
    }

    /// An operator a Helm chart installed: the release, its Deployments as the operator, CRDs in
    /// its manifest, and CRDs whose status its service accounts may write.
    mutating func seedHelmOperator(_ release: String) async throws(KubeError) -> [String] {
        let objects = try await seedHelmRelease(release)
        var owned: [String] = []
        var serviceAccounts: [ObjectReference] = []
        for object in objects {
            switch (object.groupVersion.group, object.kind) {
            case ("apps", "Deployment"):
                components[object.reference]?.reasons.insert(.operatorDeployment(installedBy: "Helm release \(release)"))
            case ("", "ServiceAccount"):
                components[object.reference]?.reasons.insert(.operatorRBAC(serviceAccount: object.name))
                serviceAccounts.append(object.reference)
            case ("apiextensions.k8s.io", "CustomResourceDefinition"):
                components[object.reference]?.reasons.insert(.operatorOwnedCRD(installedBy: "Helm release \(release)"))
                owned.append(object.name)
            default:
                break
            }
        }
        for serviceAccount in serviceAccounts {
            try await includeOperatorRBAC(of: serviceAccount)
            for crd in try await crdsManaged(byServiceAccount: serviceAccount) where !owned.contains(crd.name) {
                owned.append(crd.name)
                include(
                    crd, resource: resource("apiextensions.k8s.io", "CustomResourceDefinition")!,
                    reason: .operatorOwnedCRD(installedBy: "Helm release \(release)"))
            }
        }
        return owned
    }

    /// An operator running as a plain Deployment: it, its service account and RBAC, and the CRDs
    /// whose status that account may write (a controller updates the status of what it owns).
    mutating func seedDeploymentOperator(_ name: String, required: Bool) async throws(KubeError) -> [String]? {
        guard let resource = resource("apps", "Deployment") else { return nil }
        var deployment: KubeObject?
        for namespace in searchNamespaces {
            if let namespace {
                deployment = try await fetch(resource, namespace: namespace, name: name, notFound: required ? .missing : nil)
            } else {
                deployment = try await cachedList(resource, namespace: nil).first { $0.name == name }
            }
            if deployment != nil { break }
        }
        guard let deployment else { return nil }
        include(deployment, resource: resource, reason: .operatorDeployment(installedBy: "Deployment"))
        let accountName = deployment["spec"]?["template"]?["spec"]?["serviceAccountName"]?.stringValue ?? "default"
        guard
            let account = try await include(
                group: "", kind: "ServiceAccount", namespace: deployment.namespace, name: accountName,
                reason: .operatorRBAC(serviceAccount: accountName))
        else {
            return []
        }
        var owned: [String] = []
        for crd in try await crdsManaged(byServiceAccount: account.reference) {
            owned.append(crd.name)
            include(
                crd, resource: self.resource("apiextensions.k8s.io", "CustomResourceDefinition")!,
                reason: .operatorOwnedCRD(installedBy: "Deployment \(name)"))
        }
        try await includeOperatorRBAC(of: account.reference)
        return owned
    }

    /// The bindings naming the operator's service account and the roles they grant, as the
    /// operator's own RBAC (restored before the operator).
    mutating func includeOperatorRBAC(of account: ObjectReference) async throws(KubeError) {
        let reason = InclusionReason.operatorRBAC(serviceAccount: account.name)
        for binding in try await bindings(of: account) {
            guard let bindingResource = resource(binding.groupVersion.group, binding.kind) else { continue }
            include(binding, resource: bindingResource, reason: reason)
            guard let roleKind = binding["roleRef"]?["kind"]?.stringValue, let roleName = binding["roleRef"]?["name"]?.stringValue,
                let roleResource = resource("rbac.authorization.k8s.io", roleKind),
                let role = try await fetch(roleResource, namespace: binding.namespace, name: roleName)
            else { continue }
            if role.labels["kubernetes.io/bootstrapping"] != "rbac-defaults" {
                include(role, resource: roleResource, reason: reason)
            }
        }
    }

    /// CRDs whose `status` subresource (or everything in the group, with `*`) the service
    /// account may update or patch through its Roles and ClusterRoles.
    mutating func crdsManaged(byServiceAccount account: ObjectReference) async throws(KubeError) -> [KubeObject] {
        let crds = try await loadCRDs()
        var rules: [JSONValue] = []
        for binding in try await bindings(of: account) {
            guard let roleKind = binding["roleRef"]?["kind"]?.stringValue, let roleName = binding["roleRef"]?["name"]?.stringValue,
                let roleResource = resource("rbac.authorization.k8s.io", roleKind)
            else { continue }
            guard let role = try await fetch(roleResource, namespace: binding.namespace, name: roleName) else { continue }
            rules += role["rules"]?.arrayValue ?? []
        }
        var managed: [String: KubeObject] = [:]
        for rule in rules {
            let verbs = Set((rule["verbs"]?.arrayValue ?? []).compactMap(\.stringValue))
            guard !verbs.isDisjoint(with: ["*", "update", "patch"]) else { continue }
            let groups = Set((rule["apiGroups"]?.arrayValue ?? []).compactMap(\.stringValue))
            let resources = Set((rule["resources"]?.arrayValue ?? []).compactMap(\.stringValue))
            for crd in crds.values {
                let group = crd["spec"]?["group"]?.stringValue ?? ""
                let plural = crd["spec"]?["names"]?["plural"]?.stringValue ?? ""
                guard groups.contains(group) || groups.contains("*") else { continue }
                if resources.contains("\(plural)/status") || resources.contains("*") || resources.contains("*/status") {
                    managed[crd.name] = crd
                }
            }
        }
        return managed.keys.sorted().map { managed[$0]! }
    }

    /// The custom resources of the given CRDs (restricted to `only` kinds when set).
    mutating func seedCustomResources(ofCRDs names: [String], only kinds: Set<GroupKind>?) async throws(KubeError) {
        let crds = try await loadCRDs()
        for name in names.sorted() {
            guard let crd = crds.values.first(where: { $0.name == name }) else { continue }
            let group = crd["spec"]?["group"]?.stringValue ?? ""
            guard let kind = crd["spec"]?["names"]?["kind"]?.stringValue, let resource = resource(group, kind) else { continue }
            if let kinds, !kinds.contains(GroupKind(group: group, kind: kind)) { continue }
            if !resource.namespaced, case .namespace = scope {
                issues.insert(
                    DiscoveryIssue(
                        kind: .outOfScope, subject: "\(kind).\(group) objects",
                        message: "cluster-scoped custom resources of \(name) are only captured by cluster-scoped plans"))
                continue
            }
            for namespace in resource.namespaced ? searchNamespaces : [nil] {
                for object in try await cachedList(resource, namespace: namespace) {
                    include(object, resource: resource, reason: .operatorCustomResource(crd: name))
                }
            }
        }
    }
}
