/// Settings for reaching an object store, gathered from command-line flags and the environment.
public struct StoreOptions: Sendable {
    /// S3 endpoint URL (`--s3-endpoint`, `FERRY_S3_ENDPOINT`); nil means AWS.
    public var s3Endpoint: String?
    /// S3 region; nil means from the environment or the default.
    public var s3Region: String?
    /// Extra CA bundle for TLS verification (`--ca-file`).
    public var caFile: String?
    /// Skip TLS verification: only when the user asks explicitly (`--insecure-skip-tls-verify`).
    public var insecureSkipTLSVerify: Bool

    public init(s3Endpoint: String? = nil, s3Region: String? = nil, caFile: String? = nil, insecureSkipTLSVerify: Bool = false) {
        self.s3Endpoint = s3Endpoint
        self.s3Region = s3Region
        self.caFile = caFile
        self.insecureSkipTLSVerify = insecureSkipTLSVerify
    }
}

/// Turns a repository location as users write it (`/srv/backups`, `s3://bucket/prefix`) into
/// an object store.
public enum StoreLocator {
    /// Opens the store at `location`. With `create`, a missing local directory is created.
    public static func open(_ location: String, options: StoreOptions = StoreOptions(), create: Bool = false) throws -> any ObjectStore {
        if location.hasPrefix("s3://") {
            throw ObjectStoreError.unavailable(store: location, detail: "S3 repositories are not supported by this build yet")
        }
        if location.contains("://") {
            throw ObjectStoreError.missingStore(store: location, detail: "unknown repository scheme; use a directory path or s3://BUCKET/PREFIX")
        }
        return try LocalDirectoryStore(root: location, create: create)
    }
}
