import FerryKube
import Foundation

/// Restores a snapshot's objects (and volumes) into the Restore's namespace, or, cluster-wide,
/// into the backed-up namespaces.
public struct Restore: FerryObject {
    public static let kind = FerryKind.restore
    public static let emptyStatus = RestoreStatus()
    public var object: KubeObject
    public var spec: RestoreSpec
    public var status: RestoreStatus

    public init(object: KubeObject, spec: RestoreSpec, status: RestoreStatus) {
        self.object = object
        self.spec = spec
        self.status = status
    }
}

public struct RestoreSpec: Codable, Sendable, Equatable {
    /// A Backup in this namespace.
    public var backup: String?
    /// Instead of `backup`: a Target in this namespace, with `snapshot`.
    public var target: String?
    /// With `target`: a snapshot id (or unique prefix, or `latest`).
    public var snapshot: String?
    public var existingResources: ExistingResources?
    /// What happens to a claim that existed before the Restore: its data is left alone (Skip,
    /// the default), or written over (Overwrite) — and even then only when no pod and no running
    /// VirtualMachineInstance uses it and no QEMU has its disk image open.
    public var existingVolumes: ExistingVolumes?
    public var waitTimeoutSeconds: Int?
    /// Into the backed-up namespaces (and cluster-scoped objects): only in Ferry's namespace.
    public var clusterWide: Bool?
    /// With `clusterWide`: backed-up namespace → namespace to restore into.
    public var namespaceMapping: [String: String]?
    /// How long the Restore may take before it ends Failed (`90m`, `6h`, `2d`; default 24h).
    public var timeout: String?
    /// Only these of the snapshot's objects (everything when absent).
    public var include: RestoreSelection?
    /// Not these, even when `include` names them.
    public var exclude: RestoreSelection?
    /// Patches, storage class mapping and Helm values applied before the objects are created.
    public var transforms: RestoreTransforms?
    /// Commands run in the restored pods once they are Ready.
    public var hooks: RestoreHooks?

    public enum ExistingResources: String, Codable, Sendable, CaseIterable {
        case skip, update
    }

    public enum ExistingVolumes: String, Codable, Sendable, CaseIterable {
        case skip = "Skip"
        case overwrite = "Overwrite"
    }

    public init(backup: String? = nil, target: String? = nil, snapshot: String? = nil) {
        self.backup = backup
        self.target = target
        self.snapshot = snapshot
    }
}

public struct RestoreStatus: Codable, Sendable, Equatable {
    public var phase: JobPhase?
    public var attempt: String?
    public var startTime: Date?
    public var completionTime: Date?
    public var snapshot: String?
    public var created: Int?
    public var existing: Int?
    public var updated: Int?
    public var failed: Int?
    public var skipped: [String]?
    /// How many of the snapshot's objects `include` and `exclude` left out.
    public var excluded: Int?
    /// Volumes whose data was written (`namespace/claim` as in the snapshot).
    public var volumesRestored: [String]?
    /// Volumes whose claims existed before and were left alone, with why.
    public var volumesSkipped: [String]?
    /// The volumes, as many as `JobStatusBounds` allows (the failed first when not all fit).
    public var volumes: [VolumeProgress]?
    /// Every volume counted by phase, with their bytes.
    public var progress: VolumeCounts?
    /// How many volumes `volumes` leaves out; their VolumeTransfers hold their details.
    public var volumesOmitted: Int?
    /// The Restore's post-restore hooks as they ran.
    public var hooks: [HookResult]?
    public var warnings: [String]?
    public var errors: [String]?

    public init() {}
}

extension RestoreStatus {
    public mutating func boundDetails(_ bounds: JobStatusBounds) {
        let elsewhere = "the coordinator's log has every one"
        volumesRestored = bounds.list(volumesRestored, limit: bounds.names, rest: "the snapshot lists every volume")
        volumesSkipped = bounds.list(volumesSkipped, limit: bounds.messages, rest: elsewhere)
        skipped = bounds.list(skipped, limit: bounds.names, rest: elsewhere)
    }
}
