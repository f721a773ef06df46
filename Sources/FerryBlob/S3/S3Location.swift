import FerryHTTP
import Foundation

/// An S3 store's options as typed values: bucket, prefix, endpoint, region, addressing, TLS and
/// where the credentials come from. `StoreLocator` builds one from `s3://` text, flags and the
/// environment; a Kubernetes Target builds one from its fields.
public struct S3Location: Sendable {
    public var bucket: String
    /// Key prefix under which the repository lives; empty for the bucket root.
    public var prefix: String
    /// Endpoint URL (`https://minio:9000`); nil means AWS.
    public var endpoint: String?
    /// nil means: with `.ambient` credentials the region of the environment or profile, else us-east-1.
    public var region: String?
    public var addressing: S3AddressingStyle
    /// CA certificates to trust besides the system's.
    public var certificateAuthorities: HTTPTLSConfiguration.PEMSource?
    /// Skip TLS verification: only when a user asks for it explicitly.
    public var insecureSkipTLSVerify: Bool
    public var credentials: S3CredentialSource
    /// Host names pinned to addresses (`HOST:PORT:ADDRESS`), for virtual-hosted buckets without DNS.
    public var resolve: [String]
    /// Storage class by object-name prefix.
    public var storageClasses: [S3StorageClassRule]
    /// Objects larger than this go up in parts; nil means the store's default.
    public var multipartThreshold: Int?
    /// Part size of multipart uploads; nil means the store's default.
    public var multipartPartSize: Int?
    /// HTTP requests in flight at once; nil means the store's default.
    public var maxConcurrentRequests: Int?
    /// What the repository recorded about `If-None-Match: *`; nil means probe when needed.
    public var conditionalWrites: S3ConditionalWrites?

    public init(
        bucket: String, prefix: String = "", endpoint: String? = nil, region: String? = nil, addressing: S3AddressingStyle = .auto,
        certificateAuthorities: HTTPTLSConfiguration.PEMSource? = nil, insecureSkipTLSVerify: Bool = false,
        credentials: S3CredentialSource = .ambient(), resolve: [String] = [], storageClasses: [S3StorageClassRule] = [],
        multipartThreshold: Int? = nil, multipartPartSize: Int? = nil, maxConcurrentRequests: Int? = nil,
        conditionalWrites: S3ConditionalWrites? = nil
    ) {
        self.bucket = bucket
        self.prefix = prefix
        self.endpoint = endpoint
        self.region = region
        self.addressing = addressing
        self.certificateAuthorities = certificateAuthorities
        self.insecureSkipTLSVerify = insecureSkipTLSVerify
        self.credentials = credentials
        self.resolve = resolve
        self.storageClasses = storageClasses
        self.multipartThreshold = multipartThreshold
        self.multipartPartSize = multipartPartSize
        self.maxConcurrentRequests = maxConcurrentRequests
        self.conditionalWrites = conditionalWrites
    }

    /// `s3://BUCKET/PREFIX`.
    public var description: String {
        var trimmed = prefix
        while trimmed.hasSuffix("/") { trimmed.removeLast() }
        return trimmed.isEmpty ? "s3://\(bucket)" : "s3://\(bucket)/\(trimmed)"
    }

    /// The store's configuration, with the region resolved.
    public func configuration() throws -> S3Configuration {
        guard !bucket.isEmpty else {
            throw ObjectStoreError.missingStore(store: description, detail: "no bucket name; write s3://BUCKET/PREFIX")
        }
        var prefix = self.prefix
        while prefix.hasSuffix("//") { prefix.removeLast() }
        var configuration = S3Configuration(
            bucket: bucket, prefix: prefix, endpoint: endpoint, region: region ?? credentials.region ?? "us-east-1", addressing: addressing,
            tls: HTTPTLSConfiguration(certificateAuthorities: certificateAuthorities, insecureSkipVerify: insecureSkipTLSVerify),
            resolve: resolve, storageClasses: storageClasses, conditionalWrites: conditionalWrites)
        if let multipartThreshold { configuration.multipartThreshold = multipartThreshold }
        if let multipartPartSize { configuration.multipartPartSize = multipartPartSize }
        if let maxConcurrentRequests { configuration.maxConcurrentRequests = maxConcurrentRequests }
        return configuration
    }

    /// Opens the store: resolves the credentials, sends nothing yet.
    public func open() throws -> S3Store {
        let configuration = try configuration()
        let provider: any S3CredentialsProvider
        switch credentials {
        case .keys(let keys):
            provider = StaticCredentialsProvider(keys, source: "the configured access key")
        case .provider(let given):
            provider = given
        case let .ambient(profile, environment):
            let stsClient: HTTPClient
            do {
                stsClient = try HTTPClient(configuration: HTTPClientConfiguration(maxConcurrentTransfers: 2, userAgent: "ferry-sts"))
            } catch {
                throw ObjectStoreError.unavailable(store: configuration.location, detail: error.description)
            }
            provider = try S3CredentialsChain.resolve(
                profile: profile, region: configuration.region, environment: environment ?? ProcessInfo.processInfo.environment,
                client: stsClient, store: configuration.location)
        }
        return try S3Store(configuration: configuration, credentials: provider)
    }
}

/// Where an S3 store's credentials come from.
public enum S3CredentialSource: Sendable {
    /// Keys given directly (from a Kubernetes Secret, say).
    case keys(S3Credentials)
    /// The process's own identity, found as AWS tools do (`S3CredentialsChain`): a named profile,
    /// `AWS_*` variables, web identity, the shared files. `environment` nil means the process's.
    case ambient(profile: String? = nil, environment: [String: String]? = nil)
    /// A provider of the caller's (tests, custom sources).
    case provider(any S3CredentialsProvider)

    /// The region the environment or profile names, for `.ambient`.
    var region: String? {
        guard case let .ambient(explicitProfile, given) = self else { return nil }
        let environment = given ?? ProcessInfo.processInfo.environment
        func env(_ name: String) -> String? { environment[name].flatMap(S3CredentialsChain.nonEmpty) }
        let profile = explicitProfile ?? env("AWS_PROFILE") ?? "default"
        return env("AWS_REGION") ?? env("AWS_DEFAULT_REGION") ?? S3SharedConfig(environment: environment).region(profile: profile)
    }
}
