import FerryKube
import Foundation

/// A `BackupPlan`: an application in the plan's namespace (one or more selectors), its Target,
/// schedule and retention.
public struct BackupPlan: FerryObject {
    public static let kind = FerryKind.backupPlan
    public static let emptyStatus = BackupPlanStatus()
    public var object: KubeObject
    public var spec: BackupPlanSpec
    public var status: BackupPlanStatus

    public init(object: KubeObject, spec: BackupPlanSpec, status: BackupPlanStatus) {
        self.object = object
        self.spec = spec
        self.status = status
    }
}

/// A `ClusterBackupPlan`, for administrators: the same over several namespaces (named, and
/// selected by label at each backup; cluster-scoped objects included). Its Target and its
/// Backups live in the namespace Ferry runs in.
public struct ClusterBackupPlan: FerryObject {
    public static let kind = FerryKind.clusterBackupPlan
    public static let emptyStatus = BackupPlanStatus()
    public var object: KubeObject
    public var spec: BackupPlanSpec
    public var status: BackupPlanStatus

    public init(object: KubeObject, spec: BackupPlanSpec, status: BackupPlanStatus) {
        self.object = object
        self.spec = spec
        self.status = status
    }
}

/// The spec of a BackupPlan and of a ClusterBackupPlan (`namespaces` and `namespaceSelector`
/// only in the latter).
public struct BackupPlanSpec: Codable, Sendable, Equatable {
    /// A Target in the plan's namespace (a cluster plan's: in Ferry's namespace).
    public var target: String
    /// When to back up: cron (UTC), `@daily` and friends, or `@every 6h`.
    public var schedule: String?
    public var components: Components
    public var retention: Retention?
    public var parallelism: Parallelism?
    /// A ClusterBackupPlan's namespaces.
    public var namespaces: [String]?
    /// A ClusterBackupPlan's namespaces selected by label.
    public var namespaceSelector: LabelSelectorSpec?
    /// Objects the plan's backups leave out, besides those labelled `ferry.dev/exclude: "true"`.
    public var exclude: [ObjectPattern]?
    /// Commands run in the application's pods around the snapshot cut.
    public var hooks: BackupHooks?

    public struct Components: Codable, Sendable, Equatable {
        public var helmReleases: [String]?
        public var operators: [OperatorComponent]?
        public var labelSelector: LabelSelectorSpec?
        public var virtualMachines: [VirtualMachineComponent]?
        /// Everything in the namespace (a cluster plan: in each of its namespaces).
        public var wholeNamespace: Bool?

        public init(
            helmReleases: [String]? = nil, operators: [OperatorComponent]? = nil, labelSelector: LabelSelectorSpec? = nil,
            virtualMachines: [VirtualMachineComponent]? = nil, wholeNamespace: Bool? = nil
        ) {
            self.helmReleases = helmReleases
            self.operators = operators
            self.labelSelector = labelSelector
            self.virtualMachines = virtualMachines
            self.wholeNamespace = wholeNamespace
        }
    }

    /// An operator and its custom resources: found by the first of `subscription`,
    /// `helmRelease`, `deployment` or `name` (whichever of those exists).
    public struct OperatorComponent: Codable, Sendable, Equatable {
        public var name: String?
        public var subscription: String?
        public var helmRelease: String?
        public var deployment: String?
        /// `Kind.group` of the custom resources to include (all it owns when absent).
        public var customResources: [String]?

        public init(
            name: String? = nil, subscription: String? = nil, helmRelease: String? = nil, deployment: String? = nil,
            customResources: [String]? = nil
        ) {
            self.name = name
            self.subscription = subscription
            self.helmRelease = helmRelease
            self.deployment = deployment
            self.customResources = customResources
        }
    }

    public struct VirtualMachineComponent: Codable, Sendable, Equatable {
        public var name: String
        public init(name: String) { self.name = name }
    }

    /// How many snapshots of the plan to keep (restic's rules); applied after each Completed backup.
    public struct Retention: Codable, Sendable, Equatable {
        public var keepLast: Int?
        public var keepHourly: Int?
        public var keepDaily: Int?
        public var keepWeekly: Int?
        public var keepMonthly: Int?
        public var keepYearly: Int?

        public init(
            keepLast: Int? = nil, keepHourly: Int? = nil, keepDaily: Int? = nil, keepWeekly: Int? = nil, keepMonthly: Int? = nil,
            keepYearly: Int? = nil
        ) {
            self.keepLast = keepLast
            self.keepHourly = keepHourly
            self.keepDaily = keepDaily
            self.keepWeekly = keepWeekly
            self.keepMonthly = keepMonthly
            self.keepYearly = keepYearly
        }
    }

    /// Large volumes split into ranges of whole block-map pages, each a unit of its own.
    public struct Parallelism: Codable, Sendable, Equatable {
        /// At most this many ranges per volume (1...256; default 1: no split).
        public var rangesPerVolume: Int?
        /// No range smaller than this quantity (default 16Gi).
        public var minimumRangeSize: String?

        public init(rangesPerVolume: Int? = nil, minimumRangeSize: String? = nil) {
            self.rangesPerVolume = rangesPerVolume
            self.minimumRangeSize = minimumRangeSize
        }
    }

    public init(
        target: String, schedule: String? = nil, components: Components, retention: Retention? = nil, parallelism: Parallelism? = nil,
        namespaces: [String]? = nil, namespaceSelector: LabelSelectorSpec? = nil, exclude: [ObjectPattern]? = nil,
        hooks: BackupHooks? = nil
    ) {
        self.target = target
        self.hooks = hooks
        self.exclude = exclude
        self.schedule = schedule
        self.components = components
        self.retention = retention
        self.parallelism = parallelism
        self.namespaces = namespaces
        self.namespaceSelector = namespaceSelector
    }
}

/// What the coordinator records on a plan.
public struct BackupPlanStatus: Codable, Sendable, Equatable {
    /// The last Backup that ended with a snapshot (a cluster plan's: `namespace/name`).
    public var lastBackup: String?
    public var lastBackupTime: Date?
    /// How the last Backup ended.
    public var lastBackupPhase: JobPhase?
    /// The last due time the scheduler handled.
    public var lastScheduleTime: Date?
    /// When the next scheduled Backup is due.
    public var nextScheduleTime: Date?
    /// Why the schedule cannot be used.
    public var scheduleError: String?

    public init() {}
}

/// A label selector as Kubernetes writes it.
public struct LabelSelectorSpec: Codable, Sendable, Equatable {
    public var matchLabels: [String: String]?
    public var matchExpressions: [Requirement]?

    public struct Requirement: Codable, Sendable, Equatable {
        public var key: String
        public var `operator`: String
        public var values: [String]?

        public init(key: String, operator: String, values: [String]? = nil) {
            self.key = key
            self.operator = `operator`
            self.values = values
        }
    }

    public init(matchLabels: [String: String]? = nil, matchExpressions: [Requirement]? = nil) {
        self.matchLabels = matchLabels
        self.matchExpressions = matchExpressions
    }

    /// The object form of a selector written in the query syntax (`app=web,tier in (a,b)`);
    /// `>` and `<` have no object form (nil).
    public init?(_ selector: LabelSelector) {
        var labels: [String: String] = [:]
        var expressions: [Requirement] = []
        for requirement in selector.requirements {
            let key = requirement.key
            switch requirement.op {
            case .equals where labels[key] == nil: labels[key] = requirement.values.first ?? ""
            case .equals, .in: expressions.append(Requirement(key: key, operator: "In", values: requirement.values))
            case .notEquals, .notIn: expressions.append(Requirement(key: key, operator: "NotIn", values: requirement.values))
            case .exists: expressions.append(Requirement(key: key, operator: "Exists"))
            case .doesNotExist: expressions.append(Requirement(key: key, operator: "DoesNotExist"))
            case .greaterThan, .lessThan:
                return nil
            }
        }
        self.init(matchLabels: labels.isEmpty ? nil : labels, matchExpressions: expressions.isEmpty ? nil : expressions)
    }

    /// The selector, checked (`field` names it in the error).
    public func selector(object: String, field: String) throws(ClusterError) -> LabelSelector {
        do {
            return try LabelSelector(object: try JSONValue(encoding: self))
        } catch let error as SelectorError {
            throw .invalidSpec(object: object, field: field, message: error.description)
        } catch {
            throw .invalidSpec(object: object, field: field, message: "\(error)")
        }
    }
}
