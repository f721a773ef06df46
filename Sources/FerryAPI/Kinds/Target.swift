import FerryKube
import Foundation

/// A `Target`: where a repository is (a directory or S3), the Secrets that unlock it (all in the
/// Target's namespace), and its maintenance.
public struct Target: FerryObject {
    public static let kind = FerryKind.target
    public static let emptyStatus = TargetStatus()
    public var object: KubeObject
    public var spec: TargetSpec
    public var status: TargetStatus

    public init(object: KubeObject, spec: TargetSpec, status: TargetStatus) {
        self.object = object
        self.spec = spec
        self.status = status
    }
}

public struct TargetSpec: Codable, Sendable, Equatable {
    /// A directory in the coordinator's (and agents') file system.
    public var path: String?
    public var s3: S3?
    public var encryptionSecret: SecretKeyReference
    public var prune: Prune?
    /// Create a repository when the location holds none. Without it a Target that names an
    /// empty location is an error: a typo must not start a new, empty repository.
    public var initialize: Bool?
    /// An immutable repository (S3 Object Lock), set when the repository is created.
    public var immutability: Immutability?

    /// Every object the repository writes is locked for `days` in `mode` (the bucket must have
    /// Object Lock enabled); nobody holding the Target's credentials can delete a backup
    /// within that time.
    public struct Immutability: Codable, Sendable, Equatable {
        public var mode: Mode
        public var days: Int

        public enum Mode: String, Codable, Sendable, CaseIterable {
            case compliance = "Compliance"
            case governance = "Governance"
        }

        public init(mode: Mode, days: Int) {
            self.mode = mode
            self.days = days
        }
    }

    public struct S3: Codable, Sendable, Equatable {
        /// `https://host:port` of an S3-compatible server; nil for AWS.
        public var endpoint: String?
        public var bucket: String
        public var prefix: String?
        public var region: String?
        public var addressing: Addressing?
        public var insecureSkipTLSVerify: Bool?
        /// A Secret with AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY [/ AWS_SESSION_TOKEN].
        public var credentialsSecret: SecretReference?

        public enum Addressing: String, Codable, Sendable, CaseIterable {
            case auto, path, virtual
        }

        public init(
            endpoint: String? = nil, bucket: String, prefix: String? = nil, region: String? = nil, addressing: Addressing? = nil,
            insecureSkipTLSVerify: Bool? = nil, credentialsSecret: SecretReference? = nil
        ) {
            self.endpoint = endpoint
            self.bucket = bucket
            self.prefix = prefix
            self.region = region
            self.addressing = addressing
            self.insecureSkipTLSVerify = insecureSkipTLSVerify
            self.credentialsSecret = credentialsSecret
        }
    }

    public struct Prune: Codable, Sendable, Equatable {
        /// When to prune: cron (UTC), `@daily` and friends, or `@every 24h`.
        public var schedule: String?
        /// Rewrite a pack when more than this share of it is unused (default 20).
        public var maxUnusedPercent: Int?

        public init(schedule: String? = nil, maxUnusedPercent: Int? = nil) {
            self.schedule = schedule
            self.maxUnusedPercent = maxUnusedPercent
        }
    }

    public init(
        path: String? = nil, s3: S3? = nil, encryptionSecret: SecretKeyReference, prune: Prune? = nil, initialize: Bool? = nil,
        immutability: Immutability? = nil
    ) {
        self.path = path
        self.s3 = s3
        self.encryptionSecret = encryptionSecret
        self.prune = prune
        self.initialize = initialize
        self.immutability = immutability
    }

    /// The Secret key holding the password ("password" unless named).
    public var encryptionKey: String { encryptionSecret.key.flatMap { $0.isEmpty ? nil : $0 } ?? "password" }
    /// The share of a pack that may be unused before prune rewrites it.
    public var pruneMaxUnused: Double { Double(prune?.maxUnusedPercent ?? 20) / 100 }
    public var pruneSchedule: String? { prune?.schedule.flatMap { $0.isEmpty ? nil : $0 } }

    /// Where the repository is, checked: exactly one of `path` and `s3`.
    public func location(of target: String) throws(ClusterError) -> Location {
        switch (path.flatMap { $0.isEmpty ? nil : $0 }, s3) {
        case (let path?, nil):
            guard path.hasPrefix("/") else {
                throw .invalidSpec(object: target, field: "spec.path", message: "must be an absolute path, not \(path)")
            }
            return .path(path)
        case (nil, let s3?):
            guard !s3.bucket.isEmpty else { throw .invalidSpec(object: target, field: "spec.s3.bucket", message: "required") }
            return .s3(s3)
        default:
            throw .invalidSpec(object: target, field: "spec", message: "set exactly one of path and s3")
        }
    }

    public enum Location: Sendable, Equatable {
        case path(String)
        case s3(S3)

        /// The location as the CLI writes it (`/srv/backups`, `s3://bucket/prefix`).
        public var text: String {
            switch self {
            case .path(let path): return path
            case .s3(let s3): return "s3://\(s3.bucket)/\(s3.prefix ?? "")"
            }
        }
    }
}

public struct TargetStatus: Codable, Sendable, Equatable {
    public var phase: TargetPhase?
    /// The repository's location (`s3://bucket/prefix` or the path).
    public var location: String?
    /// Why the Target cannot be used, when it cannot.
    public var message: String?
    public var repositoryID: String?
    /// When the coordinator last opened the repository.
    public var lastCheckTime: Date?
    /// The spec generation that check saw.
    public var observedGeneration: Int64?
    public var lastPruneTime: Date?
    public var pruneError: String?
    public var lastPrune: PruneSummary?

    public struct PruneSummary: Codable, Sendable, Equatable {
        public var packsDeleted: Int
        public var packsRewritten: Int
        public var bytesReclaimed: Int64
        public var marksWaiting: Int

        public init(packsDeleted: Int, packsRewritten: Int, bytesReclaimed: Int64, marksWaiting: Int) {
            self.packsDeleted = packsDeleted
            self.packsRewritten = packsRewritten
            self.bytesReclaimed = bytesReclaimed
            self.marksWaiting = marksWaiting
        }
    }

    public init() {}
}

/// A Secret in the referring object's namespace.
public struct SecretReference: Codable, Sendable, Equatable {
    public var name: String
    public init(name: String) { self.name = name }
}

/// A key of a Secret in the referring object's namespace.
public struct SecretKeyReference: Codable, Sendable, Equatable {
    public var name: String
    public var key: String?
    public init(name: String, key: String? = nil) {
        self.name = name
        self.key = key
    }
}
