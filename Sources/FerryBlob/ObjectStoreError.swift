/// Why an object store operation failed, in terms a user can act on.
public enum ObjectStoreError: Error, Sendable, CustomStringConvertible {
    /// The object does not exist.
    case notFound(name: String, store: String)
    /// An object with different content already exists under a name that is never overwritten.
    case alreadyExists(name: String, store: String)
    /// The store is out of space or over quota.
    case storageFull(store: String, detail: String)
    /// The store itself (directory, bucket) does not exist.
    case missingStore(store: String, detail: String)
    /// Credentials were refused or the request was not allowed.
    case accessDenied(store: String, detail: String)
    /// The object's bytes are not what was stored (short read, checksum mismatch).
    case corrupt(name: String, store: String, detail: String)
    /// A local I/O error.
    case io(store: String, detail: String)
    /// A network or server failure that retries did not get past.
    case unavailable(store: String, detail: String)

    public var description: String {
        switch self {
        case let .notFound(name, store): "object \(name) not found in \(store)"
        case let .alreadyExists(name, store): "object \(name) already exists in \(store) with different content"
        case let .storageFull(store, detail): "\(store) is full: \(detail)"
        case let .missingStore(store, detail): "\(store) does not exist: \(detail)"
        case let .accessDenied(store, detail): "access to \(store) denied: \(detail)"
        case let .corrupt(name, store, detail): "object \(name) in \(store) is corrupt: \(detail)"
        case let .io(store, detail): "I/O error on \(store): \(detail)"
        case let .unavailable(store, detail): "\(store) is unavailable: \(detail)"
        }
    }
}
