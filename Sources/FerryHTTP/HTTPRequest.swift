/// One HTTP request: what `HTTPClient.send` and `HTTPClient.stream` take.
public struct HTTPRequest: Sendable {
    public var method: HTTPMethod
    /// Absolute `http://` or `https://` URL, already percent-encoded.
    public var url: String
    public var headers: HTTPHeaders
    public var body: HTTPBody
    /// Overrides the client's timeouts for this request (a watch wants no total timeout).
    public var timeouts: HTTPTimeouts?
    /// The largest response body `send` accepts before failing with `HTTPError.responseTooLarge`;
    /// nil means the client's default. Not used by `stream`.
    public var maxResponseBodySize: Int?

    public init(
        method: HTTPMethod = .get, url: String, headers: HTTPHeaders = HTTPHeaders(), body: HTTPBody = .empty,
        timeouts: HTTPTimeouts? = nil, maxResponseBodySize: Int? = nil
    ) {
        self.method = method
        self.url = url
        self.headers = headers
        self.body = body
        self.timeouts = timeouts
        self.maxResponseBodySize = maxResponseBodySize
    }

    /// The URL without its query string and credentials, for messages (a presigned URL's query
    /// carries a signature).
    public var redactedURL: String { HTTPRequest.redact(url) }

    static func redact(_ url: String) -> String {
        var text = Substring(url)
        if let query = text.firstIndex(where: { $0 == "?" || $0 == "#" }) { text = text[..<query] }
        if let scheme = text.firstRange(of: "://") {
            let rest = text[scheme.upperBound...]
            let hostEnd = rest.firstIndex(of: "/") ?? rest.endIndex
            if let at = rest[..<hostEnd].lastIndex(of: "@") {
                return String(text[..<scheme.upperBound]) + String(rest[rest.index(after: at)...])
            }
        }
        return String(text)
    }
}

/// How long a request may take.
public struct HTTPTimeouts: Sendable, Hashable {
    /// Connecting, including the TLS handshake.
    public var connect: Duration
    /// The whole request, from start to the last byte of the response; nil for none.
    public var total: Duration?
    /// Fail when no byte moves in either direction for this long; nil for never (watches).
    public var stall: Duration?

    public init(connect: Duration = .seconds(15), total: Duration? = nil, stall: Duration? = .seconds(60)) {
        self.connect = connect
        self.total = total
        self.stall = stall
    }
}
