/// Where a repository's objects are, as typed values: the registry of store kinds. Each case
/// carries its kind's options and `open()` builds the store, so a caller that holds typed values
/// (a Kubernetes Target) never writes a location string for a parser to take apart again.
/// User text (`/srv/backups`, `s3://bucket/prefix` with flags and environment) becomes one of
/// these in one place, `StoreLocator.location`.
///
/// A new kind of store is a new case here, its options type and its store.
public enum StoreLocation: Sendable {
    /// A directory (or any mounted filesystem).
    case directory(DirectoryLocation)
    /// An S3 bucket and key prefix.
    case s3(S3Location)

    /// Opens the store. Nothing is sent over the network yet.
    public func open() throws -> any ObjectStore {
        switch self {
        case .directory(let directory): try LocalDirectoryStore(root: directory.path, create: directory.create)
        case .s3(let s3): try s3.open()
        }
    }

    /// The location as users write it: the path, or `s3://BUCKET/PREFIX`.
    public var description: String {
        switch self {
        case .directory(let directory): directory.path
        case .s3(let s3): s3.description
        }
    }
}

/// A directory store's options.
public struct DirectoryLocation: Sendable, Hashable {
    public var path: String
    /// Create the directory (and its parents) when it does not exist.
    public var create: Bool

    public init(path: String, create: Bool = false) {
        self.path = path
        self.create = create
    }
}
