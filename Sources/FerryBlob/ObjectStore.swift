import Foundation

/// A flat namespace of named, immutable objects: the only thing a Ferry repository needs from
/// its storage. Implementations: `LocalDirectoryStore` (a directory) and the S3 store.
///
/// Names are relative paths with `/` separators ("packs/ab/ab12...", "config"). Objects are
/// written once and never overwritten, except where a caller asks for `.replace` (session
/// markers, which are leases, not data).
public protocol ObjectStore: Sendable {
    /// Where the store is, for messages ("/srv/backups", "s3://bucket/prefix").
    var location: String { get }

    /// Stores `bytes` under `name`.
    ///
    /// With `.createOnly` an existing object is never replaced: if one exists with the same
    /// content the call returns `.alreadyExists` (a retried upload of a content-addressed object
    /// is success); if its content differs it throws `ObjectStoreError.alreadyExists`.
    @discardableResult
    func put(_ name: String, _ bytes: [UInt8], mode: PutMode) async throws -> PutOutcome

    /// The whole object. Throws `ObjectStoreError.notFound` when it does not exist.
    func get(_ name: String) async throws -> [UInt8]

    /// The bytes `range` of an object. Throws `ObjectStoreError.notFound` when it does not exist,
    /// and `ObjectStoreError.corrupt` when the object is shorter than the range.
    func get(_ name: String, range: Range<Int64>) async throws -> [UInt8]

    /// Size of an object, or nil when it does not exist.
    func head(_ name: String) async throws -> ObjectInfo?

    /// Every object whose name starts with `prefix`, in no particular order.
    func list(prefix: String) async throws -> [ObjectInfo]

    /// The names `list(prefix:)` would return, for a store that can find them more cheaply
    /// than the objects' sizes (a directory: no `stat` per file). Default: `list`'s names.
    func listNames(prefix: String) async throws -> [String]

    /// Deletes objects; names that do not exist are ignored.
    func delete(_ names: [String]) async throws

    /// Removes what writes interrupted before `cutoff` left behind and no reader can see:
    /// temporary files of a killed writer on a directory, incomplete multipart uploads on S3.
    func removeAbandonedWrites(startedBefore cutoff: Date) async throws -> AbandonedWrites

    /// What the store underneath can do beyond this contract. Wrappers forward their base's.
    var capabilities: StoreCapabilities { get }
}

/// Controls some stores have beyond the `ObjectStore` contract, found through `capabilities`
/// (never by casting, so that wrappers keep them).
public struct StoreCapabilities: Sendable {
    /// Whether create-only writes are atomic on the server, probed at init and recorded (S3).
    public var conditionalWrites: (any ConditionalWriteControl)?
    /// Object versions and Object Lock (S3 buckets with Object Lock enabled).
    public var versions: (any VersionedObjectStore)?

    public init(conditionalWrites: (any ConditionalWriteControl)? = nil, versions: (any VersionedObjectStore)? = nil) {
        self.conditionalWrites = conditionalWrites
        self.versions = versions
    }
}

/// A store whose create-only writes rely on the server honouring `If-None-Match: *`.
public protocol ConditionalWriteControl: Sendable {
    /// Finds out whether the server honours it (writes and removes a probe object).
    func probeConditionalWrites() async throws -> S3ConditionalWrites
    /// Takes what a repository recorded at init, so no probe is needed.
    func assumeConditionalWrites(_ recorded: S3ConditionalWrites)
}

/// What `removeAbandonedWrites` removed.
public struct AbandonedWrites: Sendable, Equatable, Codable {
    public var count = 0
    /// Bytes freed, where the store can tell (S3 does not list the size of parts here).
    public var bytes: Int64 = 0

    public init(count: Int = 0, bytes: Int64 = 0) {
        self.count = count
        self.bytes = bytes
    }
}

extension ObjectStore {
    public var capabilities: StoreCapabilities { StoreCapabilities() }

    public func listNames(prefix: String) async throws -> [String] {
        try await list(prefix: prefix).map(\.name)
    }

    @discardableResult
    public func put(_ name: String, _ bytes: [UInt8]) async throws -> PutOutcome {
        try await put(name, bytes, mode: .createOnly)
    }
}

/// How `put` treats an existing object of the same name.
public enum PutMode: Sendable {
    /// Never replace: the repository's rule for every data and metadata object.
    case createOnly
    /// Replace atomically: only for leases such as session markers and locks' refreshes.
    case replace
}

/// What `put` did.
public enum PutOutcome: Sendable, Equatable {
    case created
    /// An identical object was already there (a retried or duplicate upload).
    case alreadyExists
}

/// One object in a listing.
public struct ObjectInfo: Sendable, Hashable {
    public var name: String
    public var size: Int64

    public init(name: String, size: Int64) {
        self.name = name
        self.size = size
    }
}
