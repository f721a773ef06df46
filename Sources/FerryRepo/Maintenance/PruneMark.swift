import FerryBlob
import Foundation

/// A prune's mark, stored as `prune/marks/<id>` between its two phases: when the chunks that no
/// snapshot referenced were tombstoned, by which index object, which writer sessions were alive
/// then (the sweep waits until each has ended or expired), and which packs no index listed.
public struct PruneMark: Codable, Sendable {
    public var id: String
    public var created: Date
    /// The index object holding this mark's tombstones.
    public var tombstoneIndex: String
    /// Writer sessions whose markers existed right after the tombstones were written.
    public var sessions: [String]
    /// Packs that no index object listed at mark time (left by interrupted writers).
    public var unindexedPacks: [String]
    public var candidates: Int

    static let prefix = "prune/marks/"
    var name: String { Self.prefix + id }
}

/// What a prune did (or, with `--dry-run`, would do).
public struct PruneReport: Codable, Sendable {
    /// Chunks no snapshot references, tombstoned by this run's mark.
    public var chunksMarked = 0
    /// Earlier marks swept by this run, and those still waiting for writer sessions.
    public var marksSwept = 0
    public var marksWaiting = 0
    /// Sessions a waiting mark is waiting for.
    public var waitingFor: [String] = []
    /// Session markers that could not be read or decoded: their marks wait (a session is ended
    /// only by a definite answer), and each line says why.
    public var sessionProblems: [String] = []
    /// Tombstoned chunks that a snapshot committed after the mark references: kept.
    public var chunksRevived = 0
    public var packsDeleted = 0
    public var packsRewritten = 0
    public var packsWritten = 0
    /// Bytes of deleted packs minus bytes of packs written by repacking.
    public var bytesReclaimed: Int64 = 0
    /// Unreferenced chunks left where they are, in packs below the `--max-unused` share: the
    /// next prune marks them again and removes them once their pack is sparse enough.
    public var unusedChunksKept = 0
    public var unusedBytesKept: Int64 = 0
    /// Temporary files and incomplete multipart uploads of interrupted writers, removed.
    public var abandonedWrites = AbandonedWrites()
    /// Object Lock: objects whose retention was extended because they are still in use.
    public var retentionExtended = 0
    /// Object Lock: versions deleted for good because their retention had passed and nothing
    /// current uses them (deleted objects' versions, and delete markers left alone).
    public var versionsReclaimed = 0
    public var versionBytesReclaimed: Int64 = 0
    /// Object Lock: versions of deleted objects still locked, kept until their date.
    public var versionsRetained = 0
    public var indexObjectsBefore = 0
    public var indexObjectsAfter = 0
    public var dryRun = false

    public init() {}
}
