/// PEM data given inline or by path (kubeconfig `certificate-authority` vs `-data`).
public enum PEMSource: Sendable, Hashable {
    case file(String)
    case data([UInt8])
}

/// How the client authenticates to the API server.
public enum KubeCredentials: Sendable, Hashable {
    case none
    /// A fixed bearer token.
    case token(String)
    /// A bearer token read from a file and re-read when it rotates (service-account tokens).
    case tokenFile(String)
    case basic(username: String, password: String)
    /// An exec credential plugin (client.authentication.k8s.io ExecCredential).
    case exec(ExecCredentialConfig)
}

/// A kubeconfig `user.exec` stanza.
public struct ExecCredentialConfig: Sendable, Hashable {
    public var apiVersion: String
    public var command: String
    public var args: [String]
    public var env: [String: String]
    public var installHint: String?
    public var provideClusterInfo: Bool

    public init(
        apiVersion: String, command: String, args: [String] = [], env: [String: String] = [:], installHint: String? = nil,
        provideClusterInfo: Bool = false
    ) {
        self.apiVersion = apiVersion
        self.command = command
        self.args = args
        self.env = env
        self.installHint = installHint
        self.provideClusterInfo = provideClusterInfo
    }
}

/// Everything needed to talk to one API server: where it is, how to trust it, who we are, the
/// default namespace, and client-side limits.
public struct KubeClientConfiguration: Sendable {
    /// `https://host:port` (or `http://` for local test servers), without a trailing slash.
    public var server: String
    public var certificateAuthority: PEMSource?
    public var clientCertificate: PEMSource?
    public var clientKey: PEMSource?
    public var insecureSkipTLSVerify: Bool
    public var credentials: KubeCredentials
    /// The namespace of the context (or of the service account), `default` otherwise.
    public var namespace: String
    /// Client-side rate limit: sustained requests per second and burst, as client-go's defaults scaled for a
    /// controller.
    public var queriesPerSecond: Double
    public var burst: Int
    /// How often a request answered 429 or 5xx (or failing to connect) is retried.
    public var maxRetries: Int
    /// Upper bound on any single wait between retries.
    public var maxRetryDelay: Duration
    /// Connect timeout and timeout of non-watch requests.
    public var connectTimeout: Duration
    public var requestTimeout: Duration
    /// Where this configuration came from (for error messages).
    public var origin: String
    /// Sent as `User-Agent`: which program asks (an API server's audit log records it).
    public var userAgent = "ferry"

    public init(
        server: String, certificateAuthority: PEMSource? = nil, clientCertificate: PEMSource? = nil, clientKey: PEMSource? = nil,
        insecureSkipTLSVerify: Bool = false, credentials: KubeCredentials = .none, namespace: String = "default",
        queriesPerSecond: Double = 50, burst: Int = 100, maxRetries: Int = 5, maxRetryDelay: Duration = .seconds(30),
        connectTimeout: Duration = .seconds(10), requestTimeout: Duration = .seconds(60), origin: String = "configuration"
    ) {
        var server = server
        while server.hasSuffix("/") { server.removeLast() }
        self.server = server
        self.certificateAuthority = certificateAuthority
        self.clientCertificate = clientCertificate
        self.clientKey = clientKey
        self.insecureSkipTLSVerify = insecureSkipTLSVerify
        self.credentials = credentials
        self.namespace = namespace
        self.queriesPerSecond = queriesPerSecond
        self.burst = burst
        self.maxRetries = maxRetries
        self.maxRetryDelay = maxRetryDelay
        self.connectTimeout = connectTimeout
        self.requestTimeout = requestTimeout
        self.origin = origin
    }
}

extension KubeClientConfiguration {
    /// The configuration kubectl would use: `kubeconfig` (or KUBECONFIG, or ~/.kube/config) and
    /// its context, else the in-cluster service account.
    public static func fromEnvironment(kubeconfig: String? = nil, context: String? = nil) throws(KubeError) -> KubeClientConfiguration {
        if let config = try Kubeconfig.discover(explicitPath: kubeconfig) {
            return try config.configuration(context: context)
        } else if InClusterConfig.isAvailable() {
            return try InClusterConfig.configuration()
        }
        throw KubeError.configuration("no kubeconfig found (--kubeconfig, KUBECONFIG, ~/.kube/config) and not running in a cluster")
    }
}
