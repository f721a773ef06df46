/// Changed-block tracking: which byte ranges of a volume may have changed since an earlier
/// backup. An optimisation of what is read, never a source of truth for what is stored: the
/// mover verifies a sample of the ranges a tracker calls unchanged (DESIGN §4).
public protocol ChangeTracker: Sendable {
    /// The provider's name as recorded in manifests ("qcow2-bitmap", "csi", "hash", ...).
    var provider: String { get }

    /// The ranges that may have changed since `bookmark` was taken, ascending and disjoint, or nil
    /// when this tracker cannot tell for that bookmark (the caller then compares everything).
    func changedRanges(since bookmark: CBTBookmark, size: Int64) throws -> [Range<Int64>]?

    /// The bookmark to record with this backup, for the next incremental to start from; nil when
    /// the tracker has nothing that a later backup could use.
    func currentBookmark() throws -> CBTBookmark?
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
}
