import FerryKube
import FerryRepo

/// A `VolumeTransfer`: one volume of a Backup, to be read on one node by the agent there; or,
/// for a Restore, one volume of a snapshot to be written back to its device or image there.
public struct VolumeTransferSpec: Sendable {
    public enum Direction: String, Sendable {
        case backup = "Backup"
        case restore = "Restore"
    }

    public var direction: Direction
    /// The Backup (or Restore) the unit belongs to.
    public var backup: String
    public var target: String
    public var node: String
    /// The volume's name in the snapshot (`namespace/claim`).
    public var volume: String
    /// Snapshots of this name are searched for the volume's parent.
    public var snapshotName: String?
    /// Host path of the block device or disk image.
    public var path: String
    public var format: String
    /// For a restore: the snapshot (id) whose volume is written.
    public var snapshot: String?
    /// The source is Ferry's own attachment of a snapshot or restored claim (a pause pod holds
    /// it, nobody writes it): open it even though the kubelet holds the device.
    public var attached = false
    /// For a backup of an exposed CSI snapshot whose driver has a SnapshotMetadata service:
    /// where the agent learns what changed since the parent.
    public var csi: CSIChangeSource?
    /// For a backup: only these block-map pages (the upper bound `Int.max`: to the end).
    public var pages: Range<Int>?

    public init(direction: Direction = .backup, backup: String, target: String, node: String, volume: String, snapshotName: String?,
                path: String, format: String = "auto", snapshot: String? = nil) {
        self.direction = direction
        self.snapshot = snapshot
        self.backup = backup
        self.target = target
        self.node = node
        self.volume = volume
        self.snapshotName = snapshotName
        self.path = path
        self.format = format
    }

    public init(_ object: KubeObject) throws(ClusterError) {
        let direction = object.optionalString("direction") ?? Direction.backup.rawValue
        guard let parsed = Direction(rawValue: direction) else {
            throw .invalidSpec(object: object.label, field: "spec.direction", message: "must be Backup or Restore, not \(direction)")
        }
        self.direction = parsed
        snapshot = object.optionalString("snapshot")
        if parsed == .restore, snapshot == nil {
            throw .invalidSpec(object: object.label, field: "spec.snapshot", message: "required for a restore")
        }
        backup = try object.requiredString("backup")
        target = try object.requiredString("target")
        node = try object.requiredString("node")
        volume = try object.requiredString("volume")
        snapshotName = object.optionalString("snapshotName")
        path = try object.requiredString("source", "path")
        format = object.optionalString("source", "format") ?? "auto"
        attached = object["spec"]?["source"]?["attached"]?.boolValue ?? false
        csi = CSIChangeSource(object["spec"]?["csi"])
        if let range = object["spec"]?["range"], let first = range["firstPage"]?.intValue {
            let count = range["pageCount"]?.intValue
            guard first >= 0, (count ?? 1) >= 1 else {
                throw .invalidSpec(object: object.label, field: "spec.range", message: "firstPage must be at least 0 and pageCount at least 1")
            }
            pages = Int(first)..<(count.map { Int(first + $0) } ?? Int.max)
        }
    }

    public var json: JSONValue {
        var spec: JSONValue = [
            "backup": .string(backup), "target": .string(target), "node": .string(node), "volume": .string(volume),
            "source": ["path": .string(path), "format": .string(format), "attached": .bool(attached)],
        ]
        if let snapshotName { spec["snapshotName"] = .string(snapshotName) }
        if direction != .backup { spec["direction"] = .string(direction.rawValue) }
        if let snapshot { spec["snapshot"] = .string(snapshot) }
        if let csi { spec["csi"] = csi.json }
        if let pages {
            spec["range"] = pages.upperBound == Int.max ? ["firstPage": .int(Int64(pages.lowerBound))]
                : ["firstPage": .int(Int64(pages.lowerBound)), "pageCount": .int(Int64(pages.count))]
        }
        return spec
    }

    /// The label agents select their units by. Node names may be longer than a label value
    /// allows (63), so the value is a digest of the name.
    public static let nodeLabel = "ferry.dev/node"
    /// The label that ties units to their Backup or Restore.
    public static let backupLabel = "ferry.dev/backup"
    public static let restoreLabel = "ferry.dev/restore"

    public static func nodeLabelValue(_ node: String) -> String {
        String(Digest.sha256(Array(node.utf8)).hex.prefix(32))
    }
}
