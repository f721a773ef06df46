import Foundation

/// A store that keeps every version of an object and can lock versions against deletion until
/// a date: S3 with Object Lock (which implies versioning). A plain DELETE there only adds a
/// delete marker; the versions under it stay readable by version id, and a locked version
/// cannot be deleted by anyone before its retain-until date (COMPLIANCE), or only with a special
/// permission (GOVERNANCE). Found through `ObjectStore.capabilities.versions`.
public protocol VersionedObjectStore: Sendable {
    /// Where the store is, for messages.
    var location: String { get }

    /// Whether Object Lock is enabled on the bucket (it can only be enabled at its creation).
    func objectLockEnabled() async throws -> Bool

    /// Every version and delete marker of the objects whose names start with `prefix`.
    func listVersions(prefix: String) async throws -> [ObjectVersion]

    /// One version's bytes (all of them with `range` nil). Throws `ObjectStoreError.notFound`
    /// when the version does not exist.
    func get(_ name: String, version: String, range: Range<Int64>?) async throws -> [UInt8]

    /// The lock on the current version of `name` (or on `version`); nil when it has none.
    /// Throws `ObjectStoreError.notFound` when there is no such object or version.
    func retention(of name: String, version: String?) async throws -> ObjectRetention?

    /// Moves the lock of the current version of `name` to `until` (later only: S3 refuses to
    /// shorten a COMPLIANCE lock).
    func extendRetention(of name: String, to retention: ObjectRetention) async throws

    /// Deletes one version or delete marker for good. A locked version is refused
    /// (`ObjectStoreError.accessDenied`).
    func deleteVersion(of name: String, version: String) async throws

    /// From now on, every object written whose name starts with one of `rule.prefixes` is
    /// locked for `rule.period` from its upload; nil stops locking new objects.
    func lockNewObjects(_ rule: RetentionRule?)
}

/// How S3 Object Lock protects a version.
public enum ObjectLockMode: String, Sendable, Codable, CaseIterable {
    /// Nobody can shorten the lock or delete the version before the date, not even the account's root user.
    case compliance = "COMPLIANCE"
    /// Users with `s3:BypassGovernanceRetention` can; everyone else cannot.
    case governance = "GOVERNANCE"
}

/// A version's lock: its mode and the date until which it holds.
public struct ObjectRetention: Sendable, Hashable {
    public var mode: ObjectLockMode
    public var until: Date

    public init(mode: ObjectLockMode, until: Date) {
        self.mode = mode
        self.until = until
    }
}

/// Which new objects get locked, and for how long.
public struct RetentionRule: Sendable, Hashable {
    public var mode: ObjectLockMode
    public var period: TimeInterval
    /// Object-name prefixes that are locked ("" locks everything).
    public var prefixes: [String]

    public init(mode: ObjectLockMode, period: TimeInterval, prefixes: [String]) {
        self.mode = mode
        self.period = period
        self.prefixes = prefixes
    }

    public func applies(to name: String) -> Bool {
        prefixes.contains { name.hasPrefix($0) }
    }
}

/// One entry of a version listing: a version of an object, or a delete marker.
public struct ObjectVersion: Sendable, Hashable {
    public var name: String
    public var version: String
    public var isDeleteMarker: Bool
    /// Whether it is the current entry of its name (a current delete marker hides the object).
    public var isLatest: Bool
    public var lastModified: Date
    /// Bytes; 0 for delete markers.
    public var size: Int64

    public init(name: String, version: String, isDeleteMarker: Bool, isLatest: Bool, lastModified: Date, size: Int64) {
        self.name = name
        self.version = version
        self.isDeleteMarker = isDeleteMarker
        self.isLatest = isLatest
        self.lastModified = lastModified
        self.size = size
    }
}
