import FerryKube

/// Finds everything that belongs to an application (by Helm release, operator, label selector,
/// namespace or VirtualMachine), applies the rules that always hold (CRDs of custom resources,
/// claims of workloads, ownerReference descendants, PVC→PV→StorageClass, RBAC of service
/// accounts, ...), and works out how each volume can be read. Problems (RBAC denials, objects
/// that vanish mid-walk, corrupt Helm records) are reported in the result, not thrown.
public struct ApplicationDiscovery<API: KubeAPI>: Sendable {
    public struct Options: Sendable {
        /// Page size of list calls: what the walk holds in memory per collection at once.
        public var pageSize = 500
        /// The kubelet's root directory on nodes (for pod volume host paths).
        public var kubeletRoot = "/var/lib/kubelet"
        /// Largest decompressed Helm release record accepted.
        public var helmReleaseLimit = HelmRelease.maximumDecodedSize
        /// In a walk that may reach every namespace: after this many namespaces' lists (or
        /// this many GETs of a cluster-scoped kind), the rest of that kind comes from one paged
        /// list across the cluster. Requests then grow with kinds and pages, not with namespaces
        /// or objects, while a plan that touches a few namespaces never lists the whole cluster.
        public var listsBeforeClusterWideList = 4
        /// A walk over at least this many named namespaces (a ClusterBackupPlan's) lists
        /// namespaced kinds across the cluster too (and keeps only its namespaces' objects);
        /// over fewer, only cluster-scoped kinds.
        public var namespacesForClusterWideLists = 16
        /// What the application's backups leave out, besides objects labelled
        /// `ferry.dev/exclude: "true"` (`excludeLabel`). A left-out object is not followed either:
        /// an excluded claim takes its volume out.
        public var exclusions: [ObjectPattern] = []

        public init() {}
    }

    /// The label that leaves any object out of an application (`ferry.dev/exclude: "true"`).
    public static var excludeLabel: String { "ferry.dev/exclude" }

    public let api: API
    public var options: Options

    public init(api: API, options: Options = Options()) {
        self.api = api
        self.options = options
    }

    /// Discovers the application `selector` names, within `scope`.
    /// - Throws: only when nothing can be discovered at all (the server is unreachable, discovery
    ///   of the API itself fails).
    public func discover(_ selector: ApplicationSelector, scope: DiscoveryScope) async throws(KubeError) -> DiscoveryResult {
        try await discover([selector], scope: scope)
    }

    /// Discovers one application made of several parts (a plan's Helm releases, operators,
    /// selectors and VMs) in one walk: an object several parts reach is captured once, with
    /// every reason.
    public func discover(_ selectors: [ApplicationSelector], scope: DiscoveryScope) async throws(KubeError) -> DiscoveryResult {
        precondition(!selectors.isEmpty, "discovery needs at least one selector")
        var walk = DiscoveryWalk(api: api, catalog: try await api.resourceCatalog(refresh: true), scope: scope, options: options)
        for selector in selectors { try await walk.seed(selector) }
        try await walk.closeOver()
        let volumes = try await walk.volumeFacts()
        // Each object is sanitized as it leaves the walk, with nothing else holding it, so it is
        // changed in place rather than copied: a whole cluster's objects are never held twice.
        walk.forgetReads()
        var found = walk.components
        walk.components = [:]
        var components: [Component] = []
        components.reserveCapacity(found.count)
        for reference in Array(found.keys) {
            guard var component = found.removeValue(forKey: reference) else { continue }
            let object = component.object
            component.object = KubeObject([:])
            component.object = CaptureSanitizer.sanitize(consume object)
            components.append(component)
        }
        return DiscoveryResult(
            selectors: selectors, scope: scope, components: components.sorted { $0.reference < $1.reference },
            volumes: volumes, dropped: walk.dropped.sorted(), issues: walk.issues.sorted())
    }
}
