import FerryKube
import FerryRepo
import Foundation

/// An internal work unit: one volume (or one range of a volume) of a Backup, read on one node by
/// the agent there; or one volume of a snapshot, written back on its node for a Restore. Created
/// and judged by the coordinator, carried out by an agent.
public struct VolumeTransfer: FerryObject {
    public static let kind = FerryKind.volumeTransfer
    public static let emptyStatus = VolumeTransferStatus()
    public var object: KubeObject
    public var spec: VolumeTransferSpec
    public var status: VolumeTransferStatus

    public init(object: KubeObject, spec: VolumeTransferSpec, status: VolumeTransferStatus) {
        self.object = object
        self.spec = spec
        self.status = status
    }

    /// Where the unit is; a unit nobody has touched is pending.
    public var phase: UnitPhase { status.phase ?? .pending }
}

public struct VolumeTransferSpec: Codable, Sendable, Equatable {
    /// Backup (read the source into the repository; the default) or Restore (write to it).
    public var direction: Direction?
    /// The Backup or Restore the unit belongs to.
    public var owner: String
    public var target: String
    /// The id of the Target's repository as the coordinator opened it: the agent refuses to
    /// store into or read from any other (a path Target that is not one shared directory).
    public var repository: String?
    public var node: String
    /// The volume's name in the snapshot (`namespace/claim`).
    public var volume: String
    /// For a backup: snapshots of this name are searched for the volume's parent.
    public var snapshotName: String?
    public var source: Source
    /// For a restore: the snapshot (id) whose volume is written.
    public var snapshot: String?
    /// For a backup: only these block-map pages.
    public var range: PageRange?
    /// For a backup of an exposed CSI snapshot whose driver has a SnapshotMetadata service.
    public var csi: CSIChangeSource?

    public enum Direction: String, Codable, Sendable, CaseIterable {
        case backup = "Backup"
        case restore = "Restore"
    }

    public struct Source: Codable, Sendable, Equatable {
        /// Host path of the block device or disk image.
        public var path: String
        public var format: Format?
        /// Ferry's own attachment of a snapshot or restored claim (a pause pod holds it, nobody
        /// writes it): opened even though the kubelet holds the device.
        public var attached: Bool?

        public enum Format: String, Codable, Sendable, CaseIterable {
            case auto, raw, qcow2
        }

        public init(path: String, format: Format? = .auto, attached: Bool? = false) {
            self.path = path
            self.format = format
            self.attached = attached
        }
    }

    /// Block-map pages `firstPage ..< firstPage + pageCount` (to the end without a count).
    public struct PageRange: Codable, Sendable, Equatable {
        public var firstPage: Int
        public var pageCount: Int?

        public init(_ pages: Range<Int>) {
            firstPage = pages.lowerBound
            pageCount = pages.upperBound == Int.max ? nil : pages.count
        }

        /// The pages (upper bound `Int.max`: to the end of the volume).
        public var pages: Range<Int> { firstPage..<(pageCount.map { firstPage + $0 } ?? Int.max) }
    }

    public init(
        direction: Direction = .backup, owner: String, target: String, node: String, volume: String, snapshotName: String? = nil,
        source: Source, snapshot: String? = nil
    ) {
        self.direction = direction == .backup ? nil : direction
        self.owner = owner
        self.target = target
        self.node = node
        self.volume = volume
        self.snapshotName = snapshotName
        self.source = source
        self.snapshot = snapshot
    }

    public var isRestore: Bool { direction == .restore }
    /// The pages a backup unit stores (nil: the whole volume).
    public var pages: Range<Int>? {
        get { range?.pages }
        set { range = newValue.map(PageRange.init) }
    }
    public var attached: Bool {
        get { source.attached ?? false }
        set { source.attached = newValue }
    }

    /// Checks what the types cannot: a restore names its snapshot; a range is well-formed.
    public func validate(object: String) throws(ClusterError) {
        if isRestore, (snapshot ?? "").isEmpty {
            throw .invalidSpec(object: object, field: "spec.snapshot", message: "required for a restore")
        }
        if let range, range.firstPage < 0 || (range.pageCount ?? 1) < 1 {
            throw .invalidSpec(object: object, field: "spec.range", message: "firstPage must be at least 0 and pageCount at least 1")
        }
        for (field, value) in [("owner", owner), ("target", target), ("node", node), ("volume", volume), ("source.path", source.path)]
        where value.isEmpty {
            throw .invalidSpec(object: object, field: "spec.\(field)", message: "required")
        }
    }
}

/// Where an agent asks which blocks of an exposed CSI snapshot changed since the parent backup:
/// the driver's SnapshotMetadata service (from its `SnapshotMetadataService`, KEP-3314) and the
/// VolumeSnapshot being read. The agent authenticates with a token of its own ServiceAccount
/// for `audience`; nothing secret travels in the unit.
public struct CSIChangeSource: Codable, Sendable, Equatable {
    /// `host:port`.
    public var address: String
    /// Base64 PEM of the CA that signs the service's certificate (nil: the system roots).
    public var caCert: String?
    public var audience: String
    /// The VolumeSnapshot's namespace and name, and its CSI handle (the next delta's base).
    public var namespace: String
    public var snapshot: String
    public var snapshotHandle: String

    public init(address: String, caCert: String?, audience: String, namespace: String, snapshot: String, snapshotHandle: String) {
        self.address = address
        self.caCert = caCert
        self.audience = audience
        self.namespace = namespace
        self.snapshot = snapshot
        self.snapshotHandle = snapshotHandle
    }
}

public struct VolumeTransferStatus: Codable, Sendable, Equatable {
    public var phase: UnitPhase?
    /// The agent attempt that claimed the unit; only it writes the status while it runs.
    public var attempt: String?
    public var agent: String?
    /// The last time the agent reported.
    public var heartbeat: Date?
    /// How often the coordinator has taken the unit back from a silent or stalled agent.
    public var requeues: Int?
    public var bytesDone: Int64?
    public var bytesTotal: Int64?
    public var message: String?
    /// For a backup range: the first block-map page of `result`.
    public var firstPage: Int?
    /// For a backup: the volume's entry for the snapshot manifest, its block-map page ids left
    /// out (they are in `pageList`).
    public var result: VolumeManifest?
    /// For a backup: the metadata chunk listing the result's block-map page ids.
    public var pageList: PageList?
    /// For a restore: what was written.
    public var written: WrittenVolume?

    public struct WrittenVolume: Codable, Sendable, Equatable {
        public var size: Int64
        public var bytesWritten: Int64

        public init(size: Int64, bytesWritten: Int64) {
            self.size = size
            self.bytesWritten = bytesWritten
        }
    }

    public init(phase: UnitPhase? = nil, message: String? = nil) {
        self.phase = phase
        self.message = message
    }
}
