import FerryKube

/// The state of one discovery run: what has been selected (and why), what remains to expand,
/// caches of collections read once per namespace, and the issues met on the way.
struct DiscoveryWalk<API: KubeAPI> {
    let api: API
    let catalog: APIResourceCatalog
    let scope: DiscoveryScope
    let options: ApplicationDiscovery<API>.Options

    /// Selected objects (live form until the end), by reference.
    var components: [ObjectReference: Component] = [:]
    /// References still to expand with the "always" rules.
    var pending: [ObjectReference] = []
    var dropped: Set<DroppedObject> = []
    var issues: Set<DiscoveryIssue> = []

    /// CRDs by the kind they define (loaded on first use).
    var crdIndex: [GroupKind: KubeObject]?
    /// Owned objects per namespace ("" = cluster-scoped), by owner uid.
    var ownerIndex: [String: [String: [(KubeObject, APIResource)]]] = [:]
    /// Collections read once: key "group/resource@namespace?labelSelector".
    var listCache: [String: [KubeObject]] = [:]
    /// Collections read once across the cluster, by namespace: key "group/resource?labelSelector".
    var clusterLists: [String: [String: [KubeObject]]] = [:]
    /// Cluster-scoped collections read once, by name: key "group/resource".
    var byName: [String: [String: KubeObject]] = [:]
    /// Namespaced lists (per kind and selector) and GETs (per cluster-scoped kind) made one by
    /// one so far: past `Options.listsBeforeClusterWideList` the walk lists across the cluster.
    var requestsByKind: [String: Int] = [:]
    /// Every namespace's owned objects are in `ownerIndex` (built from cluster-wide lists).
    var ownerIndexIsComplete = false
    /// Node and pod facts of VirtualMachines: VM reference → (node, launcher pods).
    var vmRuntime: [ObjectReference: (node: String?, pods: [KubeObject])] = [:]

    /// Forgets every collection read and index built, keeping what was found (components,
    /// dropped, issues): once the walk has ended they are most of its memory.
    mutating func forgetReads() {
        crdIndex = nil
        ownerIndex = [:]
        listCache = [:]
        clusterLists = [:]
        byName = [:]
        vmRuntime = [:]
    }

    init(api: API, catalog: APIResourceCatalog, scope: DiscoveryScope, options: ApplicationDiscovery<API>.Options) {
        self.api = api
        self.catalog = catalog
        self.scope = scope
        self.options = options
    }

    // MARK: - Errors

    /// Errors that make the whole walk pointless (cannot reach or authenticate to the server).
    static func isFatal(_ error: KubeError) -> Bool {
        switch error {
        case .unreachable, .tls, .unauthorized, .credentials, .configuration: return true
        default: return false
        }
    }

    /// Records a non-fatal error as an issue; rethrows fatal ones.
    mutating func report(_ error: KubeError, subject: String, notFound: DiscoveryIssue.Kind = .missing) throws(KubeError) {
        if Self.isFatal(error) { throw error }
        switch error {
        case .forbidden(let status): issues.insert(DiscoveryIssue(kind: .forbidden, subject: subject, message: status.message))
        case .notFound(let status):
            issues.insert(DiscoveryIssue(kind: notFound, subject: subject, message: status.message.isEmpty ? "not found" : status.message))
        default: issues.insert(DiscoveryIssue(kind: .failed, subject: subject, message: error.description))
        }
    }

    static func describe(_ resource: APIResource, namespace: String?) -> String {
        let name = resource.group.isEmpty ? resource.name : "\(resource.name).\(resource.group)"
        return namespace.map { "\(name) in namespace \($0)" } ?? name
    }

    // MARK: - Resources

    func resource(apiVersion: String, kind: String) -> APIResource? {
        catalog.resource(apiVersion: apiVersion, kind: kind)
            ?? catalog.resource(for: GroupKind(group: GroupVersion(apiVersion: apiVersion).group, kind: kind))
    }

    func resource(_ group: String, _ kind: String) -> APIResource? {
        catalog.resource(for: GroupKind(group: group, kind: kind))
    }

    // MARK: - Reading

    /// Gets one object; nil (with an issue recorded) when it is missing, forbidden or failing.
    mutating func fetch(_ resource: APIResource, namespace: String?, name: String, notFound: DiscoveryIssue.Kind? = .missing)
        async throws(KubeError) -> KubeObject?
    {
        let ns = resource.namespaced ? namespace : nil
        let subject = ObjectReference(group: resource.group, kind: resource.kind, namespace: ns, name: name).description
        if !resource.namespaced, prefersClusterWideList(resource, labelSelector: nil) {
            let key = "\(resource.group)/\(resource.name)"
            if byName[key] == nil {
                byName[key] = Dictionary(try await cachedList(resource, namespace: nil).map { ($0.name, $0) }) { first, _ in first }
            }
            if let object = byName[key]?[name] { return object }
            guard let notFound else { return nil }
            let plural = resource.group.isEmpty ? resource.name : "\(resource.name).\(resource.group)"
            issues.insert(DiscoveryIssue(kind: notFound, subject: subject, message: "\(plural) \"\(name)\" not found"))
            return nil
        }
        do {
            return try await api.get(resource, namespace: ns, name: name)
        } catch {
            if case .notFound = error, notFound == nil { return nil }
            try report(error, subject: subject, notFound: notFound ?? .missing)
            return nil
        }
    }

    /// Lists a collection (all pages), cached for the walk; nil when it cannot be read.
    mutating func cachedList(_ resource: APIResource, namespace: String?, labelSelector: String? = nil) async throws(KubeError)
        -> [KubeObject]
    {
        let key = "\(resource.group)/\(resource.name)@\(namespace ?? "*")?\(labelSelector ?? "")"
        if let cached = listCache[key] { return cached }
        if let namespace, resource.namespaced, prefersClusterWideList(resource, labelSelector: labelSelector) {
            return try await clusterWideList(resource, labelSelector: labelSelector)[namespace] ?? []
        }
        var items: [KubeObject] = []
        do {
            try await api.forEachPage(
                resource, namespace: resource.namespaced ? namespace : nil, labelSelector: labelSelector, pageSize: options.pageSize
            ) {
                items += $0
            }
        } catch {
            try report(error, subject: Self.describe(resource, namespace: namespace))
            items = []
        }
        listCache[key] = items
        return items
    }

    /// A namespaced collection listed once across the cluster, grouped by namespace.
    mutating func clusterWideList(_ resource: APIResource, labelSelector: String?) async throws(KubeError) -> [String: [KubeObject]] {
        let key = "\(resource.group)/\(resource.name)?\(labelSelector ?? "")"
        if let cached = clusterLists[key] { return cached }
        // The cluster-wide list itself is read (and cached) like any other collection.
        let byNamespace = Dictionary(grouping: try await cachedList(resource, namespace: nil, labelSelector: labelSelector)) {
            $0.namespace ?? ""
        }
        clusterLists[key] = byNamespace
        return byNamespace
    }

    /// Whether namespaced kinds may be read across the cluster: the walk may reach every
    /// namespace, or many named ones.
    var listsAcrossCluster: Bool {
        switch scope {
        case .cluster(namespaces: nil): return true
        case .cluster(let namespaces?): return namespaces.count >= options.namespacesForClusterWideLists
        case .namespace: return false
        }
    }

    /// Whether the rest of a kind is better read with one list across the cluster: the walk may
    /// reach every namespace, and it has already asked for this kind often enough.
    mutating func prefersClusterWideList(_ resource: APIResource, labelSelector: String?) -> Bool {
        // Across a few named namespaces, only a cluster-scoped kind: its one list serves any of
        // them, while a namespaced kind's would carry every other namespace's objects too. Across
        // many, one list is still fewer requests than one per namespace.
        guard case .cluster = scope, listsAcrossCluster || !resource.namespaced else { return false }
        let key = "\(resource.group)/\(resource.name)?\(labelSelector ?? "")"
        if clusterLists[key] != nil { return true }
        requestsByKind[key, default: 0] += 1
        return requestsByKind[key, default: 0] > options.listsBeforeClusterWideList
    }

    // MARK: - Selecting

    /// Why the user left this object out (so it is neither captured nor followed), or nil.
    func exclusionReason(_ object: KubeObject) -> String? {
        let label = ApplicationDiscovery<API>.excludeLabel
        if object.labels[label] == "true" { return "labelled \(label)=true" }
        let reference = object.reference
        return options.exclusions.first { $0.matches(reference) }.map { "excluded by the plan (\($0))" }
    }

    /// Why the cluster regenerates this object (so it is not captured), or nil.
    func regeneratedReason(_ object: KubeObject) -> String? {
        let group = object.groupVersion.group
        if object.labels["ferry.dev/exposes"] != nil { return "Ferry's temporary object exposing a snapshot" }
        if group == "ferry.dev", ["Backup", "Restore", "VolumeTransfer"].contains(object.kind) {
            return "Ferry's own record of a backup or restore (restoring it would run it again)"
        }
        switch (group, object.kind) {
        case ("", "Event"), ("events.k8s.io", "Event"): return "events are not restored"
        case ("discovery.k8s.io", "EndpointSlice"): return "EndpointSlices are regenerated from Services"
        case ("", "Endpoints") where object.annotations["endpoints.kubernetes.io/last-change-trigger-time"] != nil:
            return "Endpoints are regenerated from the Service's selector"
        case ("", "Pod"):
            if let owner = object.controllerReference { return "created by its controller \(owner.kind) \(owner.name)" }
        case ("apps", "ReplicaSet"):
            if let owner = object.controllerReference { return "created by its controller \(owner.kind) \(owner.name)" }
        case ("kubevirt.io", "VirtualMachineInstance"):
            if let owner = object.controllerReference { return "started by its \(owner.kind) \(owner.name)" }
        case ("", "ConfigMap") where object.name == "kube-root-ca.crt":
            return "published into every namespace by the cluster"
        case ("", "Secret") where object["type"]?.stringValue == "kubernetes.io/service-account-token":
            return "service account tokens are issued by the cluster"
        default: break
        }
        return nil
    }

    /// Adds an object (or another reason for one already selected). Returns whether it is in.
    @discardableResult
    mutating func include(_ object: KubeObject, resource: APIResource, reason: InclusionReason) -> Bool {
        let reference = object.reference
        if resource.namespaced, !scope.allows(namespace: object.namespace) {
            issues.insert(
                DiscoveryIssue(
                    kind: .outOfScope, subject: reference.description, message: "\(reason.description), but the plan is limited to \(scope)"
                ))
            return false
        }
        if let why = exclusionReason(object) ?? regeneratedReason(object) {
            dropped.insert(DroppedObject(reference: reference, why: why))
            return false
        }
        if components[reference] != nil {
            components[reference]!.reasons.insert(reason)
            return true
        }
        components[reference] = Component(
            reference: reference, apiVersion: object.apiVersion, resource: resource.name, namespaced: resource.namespaced,
            object: object, reasons: [reason], isCustomResource: crdIndex?[object.groupKind] != nil || isCustomGroup(resource.group))
        pending.append(reference)
        return true
    }

    /// Fetches and includes an object named by reference.
    @discardableResult
    mutating func include(
        apiVersion: String? = nil, group: String? = nil, kind: String, namespace: String?, name: String, reason: InclusionReason,
        notFound: DiscoveryIssue.Kind? = .missing
    ) async throws(KubeError) -> KubeObject? {
        let resolved: APIResource?
        if let apiVersion { resolved = resource(apiVersion: apiVersion, kind: kind) } else { resolved = resource(group ?? "", kind) }
        guard let resource = resolved else {
            let type = apiVersion.map { "\(kind) (\($0))" } ?? GroupKind(group: group ?? "", kind: kind).description
            issues.insert(
                DiscoveryIssue(kind: .unknownKind, subject: "\(type) \(name)", message: "the server does not serve this kind (\(reason))"))
            return nil
        }
        let ns = resource.namespaced ? namespace : nil
        let reference = ObjectReference(group: resource.group, kind: resource.kind, namespace: ns, name: name)
        if components[reference] != nil {
            components[reference]!.reasons.insert(reason)
            return components[reference]!.object
        }
        if resource.namespaced, !scope.allows(namespace: ns) {
            issues.insert(
                DiscoveryIssue(
                    kind: .outOfScope, subject: reference.description, message: "\(reason.description), but the plan is limited to \(scope)"
                ))
            return nil
        }
        guard let object = try await fetch(resource, namespace: ns, name: name, notFound: notFound) else { return nil }
        include(object, resource: resource, reason: reason)
        return object
    }

    /// Groups served by the API server itself rather than CRDs (a CRD-backed group is custom).
    func isCustomGroup(_ group: String) -> Bool {
        guard let crdIndex else { return false }
        return crdIndex.keys.contains { $0.group == group }
    }

    // MARK: - CRDs

    mutating func loadCRDs() async throws(KubeError) -> [GroupKind: KubeObject] {
        if let crdIndex { return crdIndex }
        var index: [GroupKind: KubeObject] = [:]
        if let resource = resource("apiextensions.k8s.io", "CustomResourceDefinition") {
            for crd in try await cachedList(resource, namespace: nil) {
                let group = crd["spec"]?["group"]?.stringValue ?? ""
                if let kind = crd["spec"]?["names"]?["kind"]?.stringValue { index[GroupKind(group: group, kind: kind)] = crd }
            }
        }
        crdIndex = index
        for (reference, component) in components where index[reference.groupKind] != nil && !component.isCustomResource {
            components[reference]!.isCustomResource = true
        }
        return index
    }
}
