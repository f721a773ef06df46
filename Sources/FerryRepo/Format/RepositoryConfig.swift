import FerryBlob
import Foundation

/// The repository's `config` object: format version and the parameters every client must agree
/// on. Written once at `repo init`, never rewritten. Stored as plain JSON because it is needed
/// before any key is open; the key slots bind its digest so that it cannot be altered unnoticed.
public struct RepositoryConfig: Codable, Sendable, Equatable {
    /// The format version this build writes and reads.
    public static let currentVersion = 1

    public var version: Int
    /// Random repository id (hex); names the local cache and is bound into key slots.
    public var id: String
    public var created: Date
    /// "aes-256-gcm", or "none" for a repository created with `--insecure-no-encryption`.
    public var encryption: String
    /// "hmac-sha256" (keyed, encrypted repositories) or "sha256".
    public var chunkID: String
    /// "lz4".
    public var compression: String
    /// Default block size for volume backups, in bytes.
    public var blockSize: Int
    /// Target size of data packs, in bytes.
    public var packSize: Int
    /// Entries per block-map page.
    public var blockMapPageEntries: Int
    /// Whether the store refused to overwrite on `If-None-Match: *` when the repository was
    /// created ("honoured" / "ignored"; absent for stores without conditional writes).
    public var conditionalWrites: String?
    /// S3 Object Lock on every object Ferry writes (absent: none). Recorded at `repo init`.
    public var objectLock: ObjectLockPolicy?

    public var isEncrypted: Bool { encryption != "none" }

    /// The compression new chunks get unless a backup asks for another.
    public var defaultCompression: Compression { Compression(compression) ?? .lz4 }

    public init(
        id: String, created: Date, encrypted: Bool, blockSize: Int, packSize: Int = 32 << 20, blockMapPageEntries: Int = 4096,
        compression: Compression = .lz4
    ) {
        self.version = Self.currentVersion
        self.id = id
        self.created = created
        self.encryption = encrypted ? "aes-256-gcm" : "none"
        self.chunkID = encrypted ? "hmac-sha256" : "sha256"
        self.compression = compression.description
        self.blockSize = blockSize
        self.packSize = packSize
        self.blockMapPageEntries = blockMapPageEntries
    }

    /// Checks that this build can use the repository; throws with the reason when not.
    func validate(location: String) throws {
        guard version == Self.currentVersion else {
            throw RepositoryError.unsupportedVersion(location: location, version: version)
        }
        guard encryption == "aes-256-gcm" || encryption == "none",
            chunkID == (isEncrypted ? "hmac-sha256" : "sha256"),
            Compression(compression) != nil,
            BlockSize.isValid(blockSize),
            packSize >= 1 << 20 && packSize <= 1 << 30,
            blockMapPageEntries >= 16 && blockMapPageEntries <= 1 << 20 && blockMapPageEntries.nonzeroBitCount == 1,
            objectLock.map({ $0.days > 0 && ObjectLockMode(rawValue: $0.mode) != nil }) ?? true
        else {
            throw RepositoryError.corruptObject(name: ObjectName.config, detail: "unsupported parameters")
        }
    }
}

/// A locked repository's policy: every object of the repository's own data (config, keys,
/// packs, index, snapshots) is written with an S3 Object Lock retention of `days` in `mode`, and
/// prune keeps the objects still referenced locked that long ahead.
public struct ObjectLockPolicy: Codable, Sendable, Equatable {
    /// "COMPLIANCE" or "GOVERNANCE".
    public var mode: String
    /// The retention period; fractions are allowed (a retain-until date is to the second).
    public var days: Double

    public init(mode: ObjectLockMode, days: Double) {
        self.mode = mode.rawValue
        self.days = days
    }

    public var lockMode: ObjectLockMode { ObjectLockMode(rawValue: mode) ?? .compliance }
    public var period: TimeInterval { days * 86_400 }

    /// Objects the lock covers: the repository's data, not the leases and marks that come and go.
    public static let lockedPrefixes = [
        ObjectName.config, ObjectName.keysPrefix, ObjectName.packsPrefix, ObjectName.indexPrefix,
        ObjectName.snapshotsPrefix,
    ]

    public var rule: RetentionRule {
        RetentionRule(mode: lockMode, period: period, prefixes: Self.lockedPrefixes)
    }
}

/// Block sizes Ferry accepts: powers of two from 64 KiB to 8 MiB.
public enum BlockSize {
    public static let minimum = 64 << 10
    public static let maximum = 8 << 20
    public static let `default` = 1 << 20

    public static func isValid(_ size: Int) -> Bool {
        size >= minimum && size <= maximum && size.nonzeroBitCount == 1
    }

    /// Parses "1M", "512K", "1MiB", "65536".
    public static func parse(_ text: String) -> Int? {
        var digits = text.trimmingCharacters(in: .whitespaces).uppercased()
        for suffix in ["IB", "B"] where digits.hasSuffix(suffix) { digits.removeLast(suffix.count) }
        var multiplier = 1
        if let last = digits.last, let shift = ["K": 10, "M": 20, "G": 30][String(last)] {
            multiplier = 1 << shift
            digits.removeLast()
        }
        guard let value = Int(digits), value > 0 else { return nil }
        return value.multipliedReportingOverflow(by: multiplier).overflow ? nil : value * multiplier
    }
}
