/// Why an HTTP exchange failed below the level of HTTP status codes. A response with any status,
/// 500 included, is not an `HTTPError`: the caller decides what a status means.
public enum HTTPError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The request cannot be sent as given (malformed URL, unsupported scheme, a header with a
    /// line break).
    case invalidRequest(String)
    /// The host name did not resolve.
    case couldNotResolve(host: String, url: String)
    /// Nothing listens at the address: the server is down or the port is wrong.
    case connectionRefused(url: String)
    /// The connection could not be made for another reason (unreachable network, ...).
    case connectionFailed(url: String, detail: String)
    /// The connection broke: reset by the peer, or closed before a complete response.
    case connectionReset(url: String, detail: String)
    /// A timeout expired (connect, total, or no data moving for the stall timeout).
    case timedOut(url: String, detail: String)
    /// The server's certificate was not trusted or does not match its name.
    case tlsVerificationFailed(url: String, detail: String)
    /// The TLS handshake failed for another reason (protocol mismatch, a client certificate the
    /// server refused).
    case tlsHandshakeFailed(url: String, detail: String)
    /// The local TLS material is unusable: an unreadable CA file, a bad certificate or key.
    case tlsConfiguration(detail: String)
    /// The response ended before the length the server announced.
    case truncatedResponse(url: String, detail: String)
    /// The response body exceeded the limit set for it.
    case responseTooLarge(url: String, limit: Int)
    /// The streamed request body failed or produced the wrong number of bytes.
    case bodySourceFailed(url: String, detail: String)
    /// The request was cancelled (its task was cancelled, or a streamed response was dropped).
    case cancelled(url: String)
    /// The client was shut down.
    case shutdown
    /// Any other transport failure, with curl's code and message.
    case transport(url: String, code: Int, detail: String)

    /// Whether sending the same request again may succeed: transient network failures.
    public var isTransient: Bool {
        switch self {
        case .connectionRefused, .connectionFailed, .connectionReset, .timedOut, .truncatedResponse, .couldNotResolve:
            true
        case let .transport(_, code, _):
            // Weird server reply, HTTP/2 framing and stream errors.
            code == 8 || code == 16 || code == 92
        default:
            false
        }
    }

    public var description: String {
        switch self {
        case let .invalidRequest(detail): "invalid HTTP request: \(detail)"
        case let .couldNotResolve(host, url): "could not resolve host \(host) (for \(url))"
        case let .connectionRefused(url): "connection refused by \(url): is the server running and the port right?"
        case let .connectionFailed(url, detail): "could not connect to \(url): \(detail)"
        case let .connectionReset(url, detail): "connection to \(url) broke: \(detail)"
        case let .timedOut(url, detail): "request to \(url) timed out: \(detail)"
        case let .tlsVerificationFailed(url, detail):
            "TLS verification of \(url) failed: \(detail) (give the server's CA with --ca-file)"
        case let .tlsHandshakeFailed(url, detail): "TLS handshake with \(url) failed: \(detail)"
        case let .tlsConfiguration(detail): "TLS configuration error: \(detail)"
        case let .truncatedResponse(url, detail): "response from \(url) was cut short: \(detail)"
        case let .responseTooLarge(url, limit): "response from \(url) is larger than the \(limit)-byte limit"
        case let .bodySourceFailed(url, detail): "request body for \(url) failed: \(detail)"
        case let .cancelled(url): "request to \(url) was cancelled"
        case .shutdown: "the HTTP client was shut down"
        case let .transport(url, code, detail): "request to \(url) failed (curl error \(code)): \(detail)"
        }
    }
}
