/// What went wrong talking to a Kubernetes API server, typed so callers can react (a 404 during a
/// discovery walk means "gone", a 409 means "re-read and retry", a 403 means "report, go on").
public enum KubeError: Error, Sendable, CustomStringConvertible {
    /// 404: the object or resource does not exist.
    case notFound(APIStatus)
    /// 409 AlreadyExists: a create found the name taken.
    case alreadyExists(APIStatus)
    /// 409 Conflict: the object changed since it was read (stale resourceVersion).
    case conflict(APIStatus)
    /// 410: a resourceVersion or continue token is too old; relist.
    case gone(APIStatus)
    /// 403: RBAC (or another authorizer) denied the request; the message carries its reason.
    case forbidden(APIStatus)
    /// 401: the credentials were not accepted.
    case unauthorized(APIStatus)
    /// 422: the object failed validation; `causes` name the fields.
    case invalid(APIStatus)
    /// 400: the request itself was malformed (bad selector, bad patch).
    case badRequest(APIStatus)
    /// 429 after every retry.
    case tooManyRequests(APIStatus)
    /// 5xx after every retry.
    case serverError(APIStatus)
    /// Any other non-success answer.
    case unexpectedStatus(APIStatus)
    /// The server could not be reached (DNS, refused connection, timeout).
    case unreachable(server: String, reason: String)
    /// The TLS handshake failed: wrong CA, bad client certificate, name mismatch.
    case tls(server: String, reason: String)
    /// The answer was not what the API returns (not JSON, not the expected kind).
    case invalidResponse(String)
    /// The kubeconfig or in-cluster configuration is unusable.
    case configuration(String)
    /// Credentials could not be obtained (exec plugin failure, unreadable token file).
    case credentials(String)
    /// Discovery does not know the requested kind or resource.
    case unknownResource(String)

    /// The Status object of an API error.
    public var status: APIStatus? {
        switch self {
        case .notFound(let s), .alreadyExists(let s), .conflict(let s), .gone(let s), .forbidden(let s),
            .unauthorized(let s), .invalid(let s), .badRequest(let s), .tooManyRequests(let s),
            .serverError(let s), .unexpectedStatus(let s):
            return s
        default:
            return nil
        }
    }

    /// Classifies an API Status by its reason and code.
    public init(status: APIStatus) {
        switch (status.code, status.reason) {
        case (404, _), (_, "NotFound"): self = .notFound(status)
        case (_, "AlreadyExists"): self = .alreadyExists(status)
        case (409, _), (_, "Conflict"): self = .conflict(status)
        case (410, _), (_, "Expired"), (_, "Gone"): self = .gone(status)
        case (403, _), (_, "Forbidden"): self = .forbidden(status)
        case (401, _), (_, "Unauthorized"): self = .unauthorized(status)
        case (422, _), (_, "Invalid"): self = .invalid(status)
        case (400, _), (_, "BadRequest"): self = .badRequest(status)
        case (429, _), (_, "TooManyRequests"): self = .tooManyRequests(status)
        case (500..., _): self = .serverError(status)
        default: self = .unexpectedStatus(status)
        }
    }

    public var isNotFound: Bool {
        if case .notFound = self { return true }
        return false
    }

    public var isForbidden: Bool {
        if case .forbidden = self { return true }
        return false
    }

    public var isGone: Bool {
        if case .gone = self { return true }
        return false
    }

    public var isConflict: Bool {
        if case .conflict = self { return true }
        return false
    }

    public var description: String {
        switch self {
        case .notFound(let s): return "not found: \(s)"
        case .alreadyExists(let s): return "already exists: \(s)"
        case .conflict(let s): return "conflict: \(s)"
        case .gone(let s): return "gone (resource version too old, relist): \(s)"
        case .forbidden(let s): return "forbidden: \(s)"
        case .unauthorized(let s): return "unauthorized (check the kubeconfig's credentials): \(s)"
        case .invalid(let s): return "invalid: \(s)"
        case .badRequest(let s): return "bad request: \(s)"
        case .tooManyRequests(let s): return "too many requests, gave up after retrying: \(s)"
        case .serverError(let s): return "server error \(s.code), gave up after retrying: \(s)"
        case .unexpectedStatus(let s): return "unexpected HTTP \(s.code): \(s)"
        case .unreachable(let server, let reason): return "cannot reach the API server \(server): \(reason)"
        case .tls(let server, let reason):
            return "TLS with the API server \(server) failed: \(reason) (check certificate-authority in the kubeconfig)"
        case .invalidResponse(let message): return "unexpected answer from the API server: \(message)"
        case .configuration(let message): return "Kubernetes configuration: \(message)"
        case .credentials(let message): return "Kubernetes credentials: \(message)"
        case .unknownResource(let message): return "unknown resource: \(message)"
        }
    }
}
