import FerryBlob

/// Why a repository operation failed, in terms a user can act on.
public enum RepositoryError: Error, Sendable, CustomStringConvertible {
    /// There is no Ferry repository at the location (no `config`).
    case notARepository(location: String)
    /// `repo init` on a location that already holds a repository.
    case alreadyInitialized(location: String)
    /// The repository was written by an incompatible version of Ferry.
    case unsupportedVersion(location: String, version: Int)
    /// No key slot opens with the password given.
    case wrongPassword(location: String)
    /// The repository is encrypted and no password was supplied.
    case passwordRequired
    /// An object is malformed or fails authentication.
    case corruptObject(name: String, detail: String)
    /// A chunk that a snapshot needs is not in any index.
    case missingChunk(id: ChunkID, context: String)
    /// A chunk's data does not hash to its id.
    case chunkMismatch(id: ChunkID, pack: String)
    /// No snapshot matches.
    case snapshotNotFound(String)
    /// A snapshot id prefix matches more than one snapshot.
    case ambiguousSnapshot(prefix: String, matches: [String])
    /// The writer's session marker disappeared or expired before the snapshot was committed
    /// (a prune may have started without counting this session): nothing was committed.
    case sessionExpired(session: String)
    /// Another prune holds the repository's prune lock.
    case locked(holder: String)
    /// The repository must be, or was asked to be, locked with S3 Object Lock, and the store cannot.
    case objectLockUnavailable(location: String, detail: String)
    /// An invalid argument.
    case invalidArgument(String)
    /// The object store failed.
    case store(ObjectStoreError)

    public var description: String {
        switch self {
        case let .notARepository(location): "\(location) is not a Ferry repository (no config object); create one with `ferry repo init`"
        case let .alreadyInitialized(location): "\(location) already holds a Ferry repository"
        case let .unsupportedVersion(location, version):
            "\(location) uses repository format version \(version), which this Ferry does not support"
        case let .wrongPassword(location): "wrong password: no key slot of \(location) opens with it"
        case .passwordRequired: "the repository is encrypted: give its password with FERRY_PASSWORD, --password-file or --password-command"
        case let .corruptObject(name, detail): "\(name) is corrupt: \(detail)"
        case let .missingChunk(id, context): "chunk \(id.short) needed by \(context) is not in the repository"
        case let .chunkMismatch(id, pack): "chunk \(id.short) read from \(pack) does not match its id: the pack is corrupt"
        case let .snapshotNotFound(text): "no snapshot matches \(text)"
        case let .ambiguousSnapshot(prefix, matches): "snapshot prefix \(prefix) is ambiguous: \(matches.prefix(5).joined(separator: ", "))"
        case let .sessionExpired(session): "write session \(session) expired or was removed before commit; no snapshot was written"
        case let .locked(holder): "the repository is locked by \(holder); try again when it has finished"
        case let .objectLockUnavailable(location, detail): "\(location) cannot hold a locked repository: \(detail)"
        case let .invalidArgument(text): text
        case let .store(error): error.description
        }
    }
}
