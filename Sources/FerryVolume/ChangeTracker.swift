/// Changed-block tracking: which byte ranges of a volume may have changed since an earlier
/// backup. An optimisation of what is read, never a source of truth for what is stored: the
/// mover verifies a sample of the blocks a tracker calls unchanged and falls back to comparing
/// everything whenever a tracker cannot vouch for its answer (design §4).
public protocol ChangeTracker: Sendable {
    /// The provider's name as recorded in manifests ("qcow2-bitmap", "csi").
    var provider: String { get }

    /// The ranges that may have changed since the backup that recorded `bookmark`, or why this
    /// tracker cannot tell (the caller then compares everything). A thrown error means the same
    /// as `.unusable` with the error as the reason.
    func changes(since bookmark: CBTBookmark, size: Int64) async throws -> CBTChanges

    /// The ranges that may hold data, for a backup without a usable parent; nil when the tracker
    /// has no allocation information (the caller then uses the source's own `dataRanges`).
    func allocatedRanges(size: Int64) async throws -> [Range<Int64>]?

    /// The bookmark to record with this backup, for the next incremental to start from; nil when
    /// the tracker has nothing that a later backup could use.
    func currentBookmark() async throws -> CBTBookmark?
}

/// A tracker's answer to "what changed since this bookmark".
public enum CBTChanges: Sendable, Equatable {
    /// Every byte outside these ascending, disjoint ranges is unchanged (ranges are not yet
    /// widened to block boundaries: see `BlockRangeList.widened`).
    case changed([Range<Int64>])
    /// The tracker cannot vouch for the changes; the reason says why, for the user and the manifest.
    case unusable(reason: String)
}

/// What a change tracker needs to find the changes since a backup: recorded in that backup's
/// manifest (a qcow2 bitmap's name and state, a CSI snapshot handle, ...).
public struct CBTBookmark: Codable, Sendable, Hashable {
    /// The `ChangeTracker.provider` that wrote it.
    public var provider: String
    /// Provider-specific fields.
    public var fields: [String: String]

    public init(provider: String, fields: [String: String] = [:]) {
        self.provider = provider
        self.fields = fields
    }

    public subscript(field: String) -> String? { fields[field] }
}
