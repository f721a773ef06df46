import FerryRepo

/// The labels and annotations Ferry puts on objects, in one place: the coordinator writes them
/// and the agent, the exposer and the scheduler select by them.
public enum FerryLabels {
    /// On VolumeTransfers: the node whose agent carries the unit out (a digest of the node's
    /// name, since node names may be longer than a label value allows).
    public static let node = "ferry.dev/node"
    /// On VolumeTransfers: the Backup whose volume the unit reads.
    public static let backup = "ferry.dev/backup"
    /// On VolumeTransfers: the Restore whose volume the unit writes.
    public static let restore = "ferry.dev/restore"
    /// On scheduled Backups: the BackupPlan they were made for.
    public static let plan = "ferry.dev/plan"
    /// On scheduled Backups: the ClusterBackupPlan they were made for.
    public static let clusterPlan = "ferry.dev/cluster-plan"
    /// On scheduled Backups: "true".
    public static let scheduled = "ferry.dev/scheduled"
    /// On VolumeSnapshots, claims and pause pods Ferry creates to expose volumes: whose they are
    /// (`ExposureOwner.label`).
    public static let exposes = "ferry.dev/exposes"
    /// On the temporary VolumeSnapshots a restore provisions Filesystem claims from.
    public static let seeds = "ferry.dev/seeds"

    /// On kept CSI base snapshots: the plan's snapshot name (the chain the snapshot belongs to).
    public static let snapshotNameAnnotation = "ferry.dev/snapshot-name"
    /// On kept CSI base snapshots: `namespace/name` of the Backup that read them.
    public static let backupAnnotation = "ferry.dev/backup"

    /// On Backups and Restores the coordinator has taken up: deleting one stops its work and
    /// removes what it exposed before the object goes.
    public static let jobFinalizer = "ferry.dev/cleanup"

    /// The value of `node` for a node name.
    public static func nodeValue(_ node: String) -> String {
        String(Digest.sha256(Array(node.utf8)).hex.prefix(32))
    }
}
