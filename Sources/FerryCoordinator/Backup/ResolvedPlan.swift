import FerryAPI
import FerryApps
import FerryKube
import FerryRepo

/// A BackupPlan or ClusterBackupPlan read into what a backup needs: the application's selectors
/// (all within the plan's namespace, or a cluster plan's namespaces), its Target, the retention
/// applied after each Completed backup, and how volumes are split into ranges.
struct ResolvedPlan: Sendable {
    var kind: FerryKind
    /// The plan's namespace; "" for a ClusterBackupPlan.
    var namespace: String
    var name: String
    var spec: BackupPlanSpec
    /// The plan object as read (its status is written back).
    var object: KubeObject
    var selectors: [ApplicationSelector]
    /// A ClusterBackupPlan's namespaces selected by label (resolved at each backup).
    var namespaceSelector: LabelSelector?
    /// `components.wholeNamespace` of a ClusterBackupPlan: every object of each namespace.
    var wholeNamespaces = false
    var retention: RetentionPolicy?
    /// Ranges each volume is split into, to be read by several agents (or units) at once.
    var rangesPerVolume = 1
    /// No range is smaller than this (bytes).
    var minimumRangeSize: Int64 = 16 << 30

    init(_ plan: BackupPlan) throws(ClusterError) {
        try self.init(kind: .backupPlan, object: plan.object, spec: plan.spec)
    }

    init(_ plan: ClusterBackupPlan) throws(ClusterError) {
        try self.init(kind: .clusterBackupPlan, object: plan.object, spec: plan.spec)
    }

    private init(kind: FerryKind, object: KubeObject, spec: BackupPlanSpec) throws(ClusterError) {
        self.kind = kind
        self.object = object
        self.spec = spec
        namespace = object.namespace ?? ""
        name = object.name
        let label = object.label
        guard !spec.target.isEmpty else { throw .invalidSpec(object: label, field: "spec.target", message: "required") }
        let components = spec.components
        var selectors: [ApplicationSelector] = []
        for release in components.helmReleases ?? [] {
            guard !release.isEmpty else {
                throw .invalidSpec(object: label, field: "spec.components.helmReleases", message: "entries are release names")
            }
            selectors.append(.helmRelease(name: release))
        }
        for (index, entry) in (components.operators ?? []).enumerated() {
            selectors.append(.operator(try Self.operatorReference(entry, field: "spec.components.operators[\(index)]", object: label)))
        }
        if let selector = components.labelSelector {
            selectors.append(.labelSelector(try selector.selector(object: label, field: "spec.components.labelSelector")))
        }
        for (index, vm) in (components.virtualMachines ?? []).enumerated() {
            guard !vm.name.isEmpty else {
                throw .invalidSpec(object: label, field: "spec.components.virtualMachines[\(index)].name", message: "required")
            }
            selectors.append(.virtualMachine(name: vm.name))
        }
        if components.wholeNamespace == true {
            if kind == .clusterBackupPlan { wholeNamespaces = true } else { selectors.append(.namespace(namespace)) }
        }
        if kind == .clusterBackupPlan {
            namespaceSelector = try spec.namespaceSelector.map { selector throws(ClusterError) in
                try selector.selector(object: label, field: "spec.namespaceSelector")
            }
            guard !(spec.namespaces ?? []).isEmpty || namespaceSelector != nil else {
                throw .invalidSpec(object: label, field: "spec", message: "set namespaces or namespaceSelector")
            }
        }
        guard !selectors.isEmpty || wholeNamespaces else {
            throw .invalidSpec(object: label, field: "spec.components", message: "names nothing to back up")
        }
        self.selectors = selectors
        retention = spec.retention.flatMap(Self.retention)
        if let parallelism = spec.parallelism {
            if let ranges = parallelism.rangesPerVolume {
                guard (1...256).contains(ranges) else {
                    throw .invalidSpec(
                        object: label, field: "spec.parallelism.rangesPerVolume", message: "must be between 1 and 256, not \(ranges)")
                }
                rangesPerVolume = ranges
            }
            if let text = parallelism.minimumRangeSize {
                guard let bytes = Quantity(text)?.value, bytes > 0 else {
                    throw .invalidSpec(
                        object: label, field: "spec.parallelism.minimumRangeSize", message: "\(text) is not a size such as 16Gi")
                }
                minimumRangeSize = bytes
            }
        }
    }

    /// The named namespaces of a ClusterBackupPlan.
    var namespaces: [String] { spec.namespaces ?? [] }

    static func operatorReference(_ entry: BackupPlanSpec.OperatorComponent, field: String, object: String) throws(ClusterError)
        -> OperatorReference
    {
        let installation: OperatorReference.Installation
        if let name = entry.subscription {
            installation = .subscription(name)
        } else if let name = entry.helmRelease {
            installation = .helmRelease(name)
        } else if let name = entry.deployment {
            installation = .deployment(name)
        } else if let name = entry.name {
            installation = .named(name)
        } else {
            throw .invalidSpec(object: object, field: field, message: "set one of name, subscription, helmRelease, deployment")
        }
        let kinds = (entry.customResources ?? []).map(GroupKind.init(dotted:))
        return OperatorReference(installation, customResources: kinds.isEmpty ? nil : Set(kinds))
    }

    static func retention(_ spec: BackupPlanSpec.Retention) -> RetentionPolicy? {
        let policy = RetentionPolicy(
            last: spec.keepLast ?? 0, hourly: spec.keepHourly ?? 0, daily: spec.keepDaily ?? 0,
            weekly: spec.keepWeekly ?? 0, monthly: spec.keepMonthly ?? 0, yearly: spec.keepYearly ?? 0)
        return policy.isEmpty ? nil : policy
    }

    /// The snapshot name of the plan's backups.
    var snapshotName: String { kind == .clusterBackupPlan ? "cluster-plan:\(name)" : "plan:\(namespace)/\(name)" }

    /// `BackupPlan ns/name` or `ClusterBackupPlan name`, for messages.
    var label: String { kind == .clusterBackupPlan ? "ClusterBackupPlan \(name)" : "BackupPlan \(namespace)/\(name)" }
}
