import FerryKube
import Foundation

/// One backup of a BackupPlan's application (or of a ClusterBackupPlan's namespaces).
public struct Backup: FerryObject {
    public static let kind = FerryKind.backup
    public static let emptyStatus = BackupStatus()
    public var object: KubeObject
    public var spec: BackupSpec
    public var status: BackupStatus

    public init(object: KubeObject, spec: BackupSpec, status: BackupStatus) {
        self.object = object
        self.spec = spec
        self.status = status
    }
}

public struct BackupSpec: Codable, Sendable, Equatable {
    /// A BackupPlan in the Backup's namespace.
    public var plan: String?
    /// Or a ClusterBackupPlan (only for Backups in the namespace Ferry runs in).
    public var clusterPlan: String?
    /// How long the Backup may take before it ends Failed (`90m`, `6h`, `2d`; default 24h).
    public var timeout: String?

    public init(plan: String? = nil, clusterPlan: String? = nil) {
        self.plan = plan
        self.clusterPlan = clusterPlan
    }
}

public struct BackupStatus: Codable, Sendable, Equatable {
    public var phase: JobPhase?
    /// The coordinator attempt carrying the Backup out.
    public var attempt: String?
    public var startTime: Date?
    public var completionTime: Date?
    /// The snapshot committed (its id).
    public var snapshot: String?
    /// Objects captured.
    public var resources: Int?
    public var bytesStored: Int64?
    public var volumes: [VolumeProgress]?
    public var warnings: [String]?
    public var errors: [String]?

    public init() {}
}

/// One volume of a Backup or Restore, as its status lists it.
public struct VolumeProgress: Codable, Sendable, Equatable {
    /// `namespace/claim`.
    public var claim: String
    public var phase: VolumePhase
    public var bytesDone: Int64?
    public var bytesTotal: Int64?
    public var message: String?

    public init(claim: String, phase: VolumePhase, bytesDone: Int64? = nil, bytesTotal: Int64? = nil, message: String? = nil) {
        self.claim = claim
        self.phase = phase
        self.bytesDone = bytesDone
        self.bytesTotal = bytesTotal
        self.message = message
    }
}
