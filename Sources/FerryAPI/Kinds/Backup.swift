import FerryKube
import FerryRepo
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
    /// The volumes, as many as `JobStatusBounds` allows (the failed first when not all fit).
    public var volumes: [VolumeProgress]?
    /// Every volume counted by phase, with their bytes.
    public var progress: VolumeCounts?
    /// How many volumes `volumes` leaves out; their VolumeTransfers hold their details.
    public var volumesOmitted: Int?
    /// The plan's hooks as they ran.
    public var hooks: [HookResult]?
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
    /// Once a backed-up volume succeeded: how its changed blocks were found (`qcow2-bitmap`,
    /// `csi`, `hash`, or `none` for a full read) and what that saved.
    public var changeTracking: String?
    /// Bytes read from the volume (what change tracking did not rule out).
    public var bytesRead: Int64?
    /// Blocks found equal to the parent snapshot's, recorded without being read or stored.
    public var unchangedBlocks: Int?
    /// Blocks stored new (after deduplication) and their stored (compressed, encrypted) bytes.
    public var newBlocks: Int?
    public var bytesStored: Int64?

    public init(claim: String, phase: VolumePhase, bytesDone: Int64? = nil, bytesTotal: Int64? = nil, message: String? = nil) {
        self.claim = claim
        self.phase = phase
        self.bytesDone = bytesDone
        self.bytesTotal = bytesTotal
        self.message = message
    }

    /// The statistics of a stored volume (a backup unit's result).
    public mutating func record(_ stored: VolumeManifest) {
        changeTracking = stored.changeTracking?.provider ?? "none"
        bytesRead = stored.stats.bytesRead
        unchangedBlocks = stored.stats.unchangedBlocks
        newBlocks = stored.stats.newBlocks
        bytesStored = stored.stats.bytesStored
    }
}
