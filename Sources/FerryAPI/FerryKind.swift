/// The kinds of Ferry's API group, `ferry.dev/v1alpha1`, with the names they are served under.
public enum FerryKind: String, Sendable, CaseIterable, Codable {
    case target = "Target"
    case backupPlan = "BackupPlan"
    case clusterBackupPlan = "ClusterBackupPlan"
    case backup = "Backup"
    case restore = "Restore"
    case volumeTransfer = "VolumeTransfer"

    public static let group = "ferry.dev"
    public static let version = "v1alpha1"
    public static let apiVersion = "\(group)/\(version)"

    /// The resource name (`backups`), as in the CRD's `spec.names.plural`.
    public var plural: String {
        switch self {
        case .target: "targets"
        case .backupPlan: "backupplans"
        case .clusterBackupPlan: "clusterbackupplans"
        case .backup: "backups"
        case .restore: "restores"
        case .volumeTransfer: "volumetransfers"
        }
    }

    /// Whether objects of the kind live in a namespace (all but ClusterBackupPlan).
    public var namespaced: Bool { self != .clusterBackupPlan }
}
