/// Settings shared by every request an `HTTPClient` sends.
public struct HTTPClientConfiguration: Sendable {
    /// Which HTTP version to speak.
    public enum HTTPVersion: Sendable, Hashable {
        /// HTTP/1.1 over one connection per transfer in flight (what S3 clients do).
        case http1_1
        /// HTTP/2 when the server offers it over TLS, HTTP/1.1 otherwise (many watches over one
        /// connection to a Kubernetes API server).
        case http2
    }

    public var tls: HTTPTLSConfiguration
    public var timeouts: HTTPTimeouts
    /// Host names pinned to addresses, in curl's `CURLOPT_RESOLVE` form `HOST:PORT:ADDRESS`
    /// (for example `bucket.s3.test:8333:127.0.0.1`), so virtual-hosted names work without DNS.
    public var resolve: [String]
    /// How many transfers run at once; further requests wait in a queue (their timeouts start
    /// when they start).
    public var maxConcurrentTransfers: Int
    /// Open connections kept per host for reuse.
    public var maxConnectionsPerHost: Int
    /// The largest response body `send` accepts unless a request says otherwise.
    public var maxResponseBodySize: Int
    /// How many I/O threads drive transfers (each its own curl multi handle and connection cache).
    public var ioThreads: Int
    public var httpVersion: HTTPVersion
    /// Let curl send `Expect: 100-continue` before large bodies, so a server can refuse a request
    /// before its body is sent.
    public var expectContinue: Bool
    /// Bytes a streamed response buffers before the transfer is paused until the reader catches up.
    public var streamBufferSize: Int
    /// Value of the User-Agent header.
    public var userAgent: String

    public init(
        tls: HTTPTLSConfiguration = .default,
        timeouts: HTTPTimeouts = HTTPTimeouts(),
        resolve: [String] = [],
        maxConcurrentTransfers: Int = 16,
        maxConnectionsPerHost: Int? = nil,
        maxResponseBodySize: Int = 256 << 20,
        ioThreads: Int = 1,
        httpVersion: HTTPVersion = .http1_1,
        expectContinue: Bool = true,
        streamBufferSize: Int = 1 << 20,
        userAgent: String = "ferry"
    ) {
        self.tls = tls
        self.timeouts = timeouts
        self.resolve = resolve
        self.maxConcurrentTransfers = max(1, maxConcurrentTransfers)
        self.maxConnectionsPerHost = max(1, maxConnectionsPerHost ?? maxConcurrentTransfers)
        self.maxResponseBodySize = maxResponseBodySize
        self.ioThreads = max(1, ioThreads)
        self.httpVersion = httpVersion
        self.expectContinue = expectContinue
        self.streamBufferSize = max(16 << 10, streamBufferSize)
        self.userAgent = userAgent
    }
}
