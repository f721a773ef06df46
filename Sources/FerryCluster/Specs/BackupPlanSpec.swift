import FerryApps
import FerryKube
import FerryRepo

/// A `BackupPlan`: the application (one or more selectors, all within the plan's namespace),
/// its Target and the retention applied after each backup. Or a `ClusterBackupPlan`, for
/// administrators: the same over several namespaces (`namespaces`, `namespaceSelector`; cluster-
/// scoped objects included), its Target and Backups in the coordinator's own namespace.
public struct BackupPlanSpec: Sendable {
    public var kind: FerryKind
    /// The plan's namespace; "" for a ClusterBackupPlan.
    public var namespace: String
    public var name: String
    public var target: String
    public var selectors: [ApplicationSelector]
    /// A ClusterBackupPlan's namespaces: named, and selected by label (resolved at each backup).
    public var namespaces: [String] = []
    public var namespaceSelector: LabelSelector?
    /// `components.wholeNamespace` of a ClusterBackupPlan: every object of each namespace.
    public var wholeNamespaces = false
    public var retention: RetentionPolicy?
    /// Ranges each volume is split into, to be read by several agents (or units) at once.
    public var rangesPerVolume = 1
    /// No range is smaller than this (bytes).
    public var minimumRangeSize: Int64 = 16 << 30

    public init(_ object: KubeObject) throws(ClusterError) {
        kind = object.kind == FerryKind.clusterBackupPlan.rawValue ? .clusterBackupPlan : .backupPlan
        namespace = object.namespace ?? ""
        name = object.name
        target = try object.requiredString("target")
        let components = object["spec"]?["components"]
        var selectors: [ApplicationSelector] = []
        for release in components?["helmReleases"]?.arrayValue ?? [] {
            guard let name = release.stringValue, !name.isEmpty else {
                throw .invalidSpec(object: object.label, field: "spec.components.helmReleases", message: "entries are release names")
            }
            selectors.append(.helmRelease(name: name))
        }
        for (index, entry) in (components?["operators"]?.arrayValue ?? []).enumerated() {
            selectors.append(.operator(try Self.operatorReference(entry, field: "spec.components.operators[\(index)]", object: object)))
        }
        if let selector = components?["labelSelector"], !selector.isNull {
            do {
                selectors.append(.labelSelector(try LabelSelector(object: selector)))
            } catch {
                throw .invalidSpec(object: object.label, field: "spec.components.labelSelector", message: error.description)
            }
        }
        for (index, vm) in (components?["virtualMachines"]?.arrayValue ?? []).enumerated() {
            guard let name = vm["name"]?.stringValue, !name.isEmpty else {
                throw .invalidSpec(object: object.label, field: "spec.components.virtualMachines[\(index)].name", message: "required")
            }
            selectors.append(.virtualMachine(name: name))
        }
        if components?["wholeNamespace"]?.boolValue == true {
            if kind == .clusterBackupPlan { wholeNamespaces = true } else { selectors.append(.namespace(namespace)) }
        }
        if kind == .clusterBackupPlan {
            namespaces = (object["spec"]?["namespaces"]?.arrayValue ?? []).compactMap(\.stringValue)
            if let selector = object["spec"]?["namespaceSelector"], !selector.isNull {
                do {
                    namespaceSelector = try LabelSelector(object: selector)
                } catch {
                    throw .invalidSpec(object: object.label, field: "spec.namespaceSelector", message: error.description)
                }
            }
            guard !namespaces.isEmpty || namespaceSelector != nil else {
                throw .invalidSpec(object: object.label, field: "spec", message: "set namespaces or namespaceSelector")
            }
        }
        guard !selectors.isEmpty || wholeNamespaces else {
            throw .invalidSpec(object: object.label, field: "spec.components", message: "names nothing to back up")
        }
        self.selectors = selectors
        retention = Self.retention(object["spec"]?["retention"])
        if let parallelism = object["spec"]?["parallelism"], !parallelism.isNull {
            if let ranges = parallelism["rangesPerVolume"]?.intValue {
                guard (1...256).contains(ranges) else {
                    throw .invalidSpec(object: object.label, field: "spec.parallelism.rangesPerVolume", message: "must be between 1 and 256, not \(ranges)")
                }
                rangesPerVolume = Int(ranges)
            }
            if let text = parallelism["minimumRangeSize"]?.stringValue {
                guard let bytes = Quantity(text)?.value, bytes > 0 else {
                    throw .invalidSpec(object: object.label, field: "spec.parallelism.minimumRangeSize", message: "\(text) is not a size such as 16Gi")
                }
                minimumRangeSize = bytes
            }
        }
    }

    static func operatorReference(_ entry: JSONValue, field: String, object: KubeObject) throws(ClusterError) -> OperatorReference {
        let installation: OperatorReference.Installation
        if let name = entry["subscription"]?.stringValue {
            installation = .subscription(name)
        } else if let name = entry["helmRelease"]?.stringValue {
            installation = .helmRelease(name)
        } else if let name = entry["deployment"]?.stringValue {
            installation = .deployment(name)
        } else if let name = entry["name"]?.stringValue {
            installation = .named(name)
        } else {
            throw .invalidSpec(object: object.label, field: field, message: "set one of name, subscription, helmRelease, deployment")
        }
        let kinds = (entry["customResources"]?.arrayValue ?? []).compactMap(\.stringValue).map(GroupKind.init(dotted:))
        return OperatorReference(installation, customResources: kinds.isEmpty ? nil : Set(kinds))
    }

    static func retention(_ json: JSONValue?) -> RetentionPolicy? {
        guard let json, !json.isNull else { return nil }
        func count(_ key: String) -> Int { Int(json[key]?.intValue ?? 0) }
        let policy = RetentionPolicy(last: count("keepLast"), hourly: count("keepHourly"), daily: count("keepDaily"),
                                     weekly: count("keepWeekly"), monthly: count("keepMonthly"), yearly: count("keepYearly"))
        return policy.isEmpty ? nil : policy
    }

    /// The snapshot name of the plan's backups.
    public var snapshotName: String { kind == .clusterBackupPlan ? "cluster-plan:\(name)" : "plan:\(namespace)/\(name)" }

    /// `BackupPlan ns/name` or `ClusterBackupPlan name`, for messages.
    public var label: String { kind == .clusterBackupPlan ? "ClusterBackupPlan \(name)" : "BackupPlan \(namespace)/\(name)" }
}
