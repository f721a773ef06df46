import FerryHTTP
import Foundation

/// Settings for reaching an object store as a user gives them (command-line flags), and the
/// environment to fill in the rest from; `StoreLocator` turns them into a `StoreLocation`.
public struct StoreOptions: Sendable {
    /// S3 endpoint URL (`--s3-endpoint`, `FERRY_S3_ENDPOINT`); nil means AWS.
    public var s3Endpoint: String?
    /// S3 region; nil means from the environment or the default.
    public var s3Region: String?
    /// Extra CA bundle for TLS verification (`--ca-file`).
    public var caFile: String?
    /// Skip TLS verification: only when the user asks explicitly (`--insecure-skip-tls-verify`).
    public var insecureSkipTLSVerify: Bool
    /// AWS profile in the shared credentials/config files (`--s3-profile`); nil means
    /// `AWS_PROFILE` or `default`, after the environment's keys and web identity.
    public var s3Profile: String?
    /// Path-style, virtual-hosted, or chosen by endpoint (`--s3-addressing path|virtual|auto`).
    public var s3Addressing: S3AddressingStyle
    /// Storage class by object-name prefix (`--s3-storage-class packs/=STANDARD_IA`).
    public var s3StorageClasses: [S3StorageClassRule]
    /// Objects larger than this go up in parts; nil means the store's default.
    public var s3MultipartThreshold: Int?
    /// Part size of multipart uploads; nil means the store's default.
    public var s3MultipartPartSize: Int?
    /// HTTP requests in flight at once; nil means the store's default.
    public var s3MaxConcurrentRequests: Int?
    /// What the repository recorded about `If-None-Match: *`; nil means probe when needed.
    public var s3ConditionalWrites: S3ConditionalWrites?
    /// Host names pinned to addresses (`HOST:PORT:ADDRESS`), for virtual-hosted buckets without DNS.
    public var resolve: [String]
    /// The environment to read AWS_* and FERRY_* variables from; nil means the process's.
    public var environment: [String: String]?

    public init(
        s3Endpoint: String? = nil, s3Region: String? = nil, caFile: String? = nil, insecureSkipTLSVerify: Bool = false,
        s3Profile: String? = nil, s3Addressing: S3AddressingStyle = .auto, s3StorageClasses: [S3StorageClassRule] = [],
        s3MultipartThreshold: Int? = nil, s3MultipartPartSize: Int? = nil, s3MaxConcurrentRequests: Int? = nil,
        s3ConditionalWrites: S3ConditionalWrites? = nil, resolve: [String] = [], environment: [String: String]? = nil
    ) {
        self.s3Endpoint = s3Endpoint
        self.s3Region = s3Region
        self.caFile = caFile
        self.insecureSkipTLSVerify = insecureSkipTLSVerify
        self.s3Profile = s3Profile
        self.s3Addressing = s3Addressing
        self.s3StorageClasses = s3StorageClasses
        self.s3MultipartThreshold = s3MultipartThreshold
        self.s3MultipartPartSize = s3MultipartPartSize
        self.s3MaxConcurrentRequests = s3MaxConcurrentRequests
        self.s3ConditionalWrites = s3ConditionalWrites
        self.resolve = resolve
        self.environment = environment
    }
}

/// Turns a repository location as users write it (`/srv/backups`, `s3://bucket/prefix`), with
/// flags and the environment, into a typed `StoreLocation`: the one place where user text is
/// parsed. Callers that already hold typed values build a `StoreLocation` themselves.
public enum StoreLocator {
    /// The typed location `text` names. With `create`, a missing local directory is created
    /// when opened (an S3 bucket must already exist).
    public static func location(_ text: String, options: StoreOptions = StoreOptions(), create: Bool = false) throws -> StoreLocation {
        if text.hasPrefix("s3://") {
            return .s3(try s3Location(text, options: options))
        }
        if text.contains("://") {
            throw ObjectStoreError.missingStore(
                store: text,
                detail: "unknown repository scheme; use a directory path or s3://BUCKET/PREFIX")
        }
        return .directory(DirectoryLocation(path: text, create: create))
    }

    /// Opens the store at `location` (see `location(_:options:create:)`).
    public static func open(_ location: String, options: StoreOptions = StoreOptions(), create: Bool = false) throws -> any ObjectStore {
        try self.location(location, options: options, create: create).open()
    }

    /// `s3://BUCKET/PREFIX` with `options`: the endpoint from the options, else `FERRY_S3_ENDPOINT`,
    /// `AWS_ENDPOINT_URL_S3` or `AWS_ENDPOINT_URL`; credentials and region as AWS tools find them.
    public static func s3Location(_ text: String, options: StoreOptions = StoreOptions()) throws -> S3Location {
        let environment = options.environment ?? ProcessInfo.processInfo.environment
        func env(_ name: String) -> String? { environment[name].flatMap(S3CredentialsChain.nonEmpty) }
        let rest = text.dropFirst("s3://".count)
        let slash = rest.firstIndex(of: "/") ?? rest.endIndex
        let bucket = String(rest[..<slash])
        let prefix = slash < rest.endIndex ? String(rest[rest.index(after: slash)...]) : ""
        guard !bucket.isEmpty else {
            throw ObjectStoreError.missingStore(store: text, detail: "no bucket name; write s3://BUCKET/PREFIX")
        }
        return S3Location(
            bucket: bucket, prefix: prefix,
            endpoint: options.s3Endpoint ?? env("FERRY_S3_ENDPOINT") ?? env("AWS_ENDPOINT_URL_S3") ?? env("AWS_ENDPOINT_URL"),
            region: options.s3Region, addressing: options.s3Addressing, certificateAuthorities: options.caFile.map { .file($0) },
            insecureSkipTLSVerify: options.insecureSkipTLSVerify,
            credentials: .ambient(profile: options.s3Profile, environment: environment),
            resolve: options.resolve, storageClasses: options.s3StorageClasses, multipartThreshold: options.s3MultipartThreshold,
            multipartPartSize: options.s3MultipartPartSize, maxConcurrentRequests: options.s3MaxConcurrentRequests,
            conditionalWrites: options.s3ConditionalWrites)
    }

    /// The S3 configuration `s3://BUCKET/PREFIX` and `options` describe, with the region, endpoint
    /// and TLS settings resolved from the environment.
    public static func s3Configuration(_ location: String, options: StoreOptions = StoreOptions()) throws -> S3Configuration {
        try s3Location(location, options: options).configuration()
    }
}
