import Foundation

/// The commit record of one backup, stored as `snapshots/<id>` (an encrypted JSON payload in an
/// `ObjectEnvelope`). A backup exists once, and only once, its manifest is written.
public struct SnapshotManifest: Codable, Sendable {
    public var version: Int
    public var time: Date
    /// What the snapshot is of: a volume's name (by default its source path) or an application.
    public var name: String
    public var hostname: String
    /// The snapshot this one was compared against, if any (hex id).
    public var parent: String?
    /// The writer session that produced it.
    public var session: String
    public var volumes: [VolumeManifest]
    /// The Kubernetes objects captured with it (an application backup); nil for a volume backup.
    public var resources: ResourceManifest?
    public var tags: [String: String]

    public init(
        time: Date, name: String, hostname: String, parent: String?, session: String, volumes: [VolumeManifest],
        resources: ResourceManifest? = nil, tags: [String: String] = [:]
    ) {
        self.resources = resources
        self.version = 1
        self.time = time
        self.name = name
        self.hostname = hostname
        self.parent = parent
        self.session = session
        self.volumes = volumes
        self.tags = tags
    }
}

/// One volume in a snapshot: its size, block size and the block map's pages.
public struct VolumeManifest: Codable, Sendable, Equatable {
    /// The volume's name within the snapshot ("disk" for a single-volume backup).
    public var name: String
    /// Where it was read from (device or file path).
    public var source: String
    /// The source's format ("raw", "qcow2").
    public var format: String
    public var size: Int64
    public var blockSize: Int
    /// Entries per block-map page.
    public var pageEntries: Int
    /// The block-map pages, in order.
    public var pages: [ChunkID]
    /// The change-tracking provider used and the bookmark the next incremental starts from.
    public var changeTracking: ChangeTrackingRecord?
    /// Counters of the backup that produced it.
    public var stats: VolumeStats

    public init(
        name: String, source: String, format: String, size: Int64, blockSize: Int, pageEntries: Int, pages: [ChunkID],
        changeTracking: ChangeTrackingRecord?, stats: VolumeStats
    ) {
        self.name = name
        self.source = source
        self.format = format
        self.size = size
        self.blockSize = blockSize
        self.pageEntries = pageEntries
        self.pages = pages
        self.changeTracking = changeTracking
        self.stats = stats
    }

    public var blockCount: Int { Int((size + Int64(blockSize) - 1) / Int64(blockSize)) }
}

/// Which change tracker a backup used and what the next backup needs to continue from it.
public struct ChangeTrackingRecord: Codable, Sendable, Hashable {
    /// The provider that decided what was read ("hash" when every block was compared).
    public var provider: String
    /// The provider's bookmark for the next incremental (provider name and fields).
    public var bookmarkProvider: String?
    public var bookmark: [String: String]?
    /// Why the requested tracker was not used (the backup then compared every block).
    public var fallbackReason: String?

    public init(provider: String, bookmarkProvider: String? = nil, bookmark: [String: String]? = nil, fallbackReason: String? = nil) {
        self.provider = provider
        self.bookmarkProvider = bookmarkProvider
        self.bookmark = bookmark
        self.fallbackReason = fallbackReason
    }
}

/// What a volume backup did, as reported by `ferry backup --json`.
public struct VolumeStats: Codable, Sendable, Equatable {
    public var size: Int64 = 0
    /// Bytes read from the source.
    public var bytesRead: Int64 = 0
    /// Bytes not read: holes, and ranges a change tracker vouched for. bytesRead + bytesNotRead = size.
    public var bytesNotRead: Int64 = 0
    /// Bytes read only to check a change tracker's claim (not part of bytesRead).
    public var bytesSampled: Int64 = 0
    public var zeroBlocks: Int = 0
    /// Blocks identical to the parent's.
    public var unchangedBlocks: Int = 0
    /// Blocks whose content was already elsewhere in the repository.
    public var dedupBlocks: Int = 0
    /// Blocks stored by this backup.
    public var newBlocks: Int = 0
    /// Bytes added to the repository (packs, indexes, manifest) after compression and encryption.
    public var bytesStored: Int64 = 0
    public var seconds: Double = 0

    public init() {}
}

/// A snapshot as listed: its id and manifest.
public struct Snapshot: Sendable {
    public var id: ChunkID
    public var manifest: SnapshotManifest

    public init(id: ChunkID, manifest: SnapshotManifest) {
        self.id = id
        self.manifest = manifest
    }
}

extension VolumeStats {
    /// Adds the block counters and bytes read of another part of the same volume (a worker's, a
    /// range's); size, bytes stored and seconds are the caller's to set.
    public mutating func merge(_ other: VolumeStats) {
        bytesRead += other.bytesRead
        bytesNotRead += other.bytesNotRead
        bytesSampled += other.bytesSampled
        zeroBlocks += other.zeroBlocks
        unchangedBlocks += other.unchangedBlocks
        dedupBlocks += other.dedupBlocks
        newBlocks += other.newBlocks
    }
}
