import FerryHTTP

/// An S3 error response (`<Error><Code>...</Code><Message>...</Message></Error>`) and what it
/// means for the caller: retry, or which `ObjectStoreError`.
struct S3ErrorResponse: Sendable {
    var status: Int
    var code: String
    var message: String
    var headers: HTTPHeaders

    init(_ response: HTTPResponse) {
        status = response.status
        headers = response.headers
        let document = response.body.isEmpty ? nil : try? S3XML.parse(response.body)
        code = document?.text("Code") ?? ""
        message = document?.text("Message") ?? ""
        if code.isEmpty {
            // HEAD responses carry no body.
            code =
                switch response.status {
                case 404: "NotFound"
                case 403: "Forbidden"
                case 412: "PreconditionFailed"
                default: "HTTP\(response.status)"
                }
        }
    }

    /// Worth sending again after a pause: the server is overloaded, failing internally, or the
    /// bytes were damaged on the way.
    var isRetryable: Bool {
        if [500, 502, 503, 504, 429].contains(status) { return true }
        return [
            "SlowDown", "InternalError", "ServiceUnavailable", "RequestTimeout", "Throttling", "ThrottlingException",
            "RequestThrottled", "TooManyRequestsException", "BadDigest", "XAmzContentSHA256Mismatch", "IncompleteBody",
            "ConditionalRequestConflict", "OperationAborted",
        ].contains(code)
    }

    /// The credentials expired: worth one retry with fresh ones.
    var isExpiredCredentials: Bool {
        ["ExpiredToken", "TokenRefreshRequired", "RequestExpired"].contains(code)
    }

    var summary: String {
        message.isEmpty ? "\(code) (HTTP \(status))" : "\(code): \(message) (HTTP \(status))"
    }

    /// The error a user sees for this response to `operation` on `name`.
    func storeError(operation: String, name: String?, store: S3Store) -> ObjectStoreError {
        let location = store.location
        let subject = name.map { "\(operation) \($0)" } ?? operation
        let credentials = store.credentialsSource
        switch code {
        case "NoSuchBucket":
            return .missingStore(
                store: location, detail: "bucket \"\(store.configuration.bucket)\" does not exist at \(store.endpointDescription)")
        case "NoSuchKey", "NotFound":
            if let name { return .notFound(name: name, store: location) }
        case "InvalidAccessKeyId":
            return .accessDenied(store: location, detail: "the server does not know the access key ID from \(credentials); check the key")
        case "SignatureDoesNotMatch":
            return .accessDenied(
                store: location,
                detail:
                    "the secret access key from \(credentials) does not match its access key ID (the server computed a different signature)"
            )
        case "RequestTimeTooSkewed":
            let serverTime = headers["Date"].map { " (server time \($0))" } ?? ""
            return .accessDenied(
                store: location,
                detail:
                    "this machine's clock differs from the server's by more than 15 minutes\(serverTime); correct the clock (NTP) and retry"
            )
        case "ExpiredToken", "TokenRefreshRequired", "RequestExpired":
            return .accessDenied(store: location, detail: "the session token from \(credentials) has expired")
        case "InvalidToken":
            return .accessDenied(store: location, detail: "the session token from \(credentials) is not valid: \(message)")
        case "AccessDenied", "AllAccessDisabled", "Forbidden", "AccountProblem", "InvalidObjectState":
            return .accessDenied(store: location, detail: "\(subject) was denied for the credentials from \(credentials): \(summary)")
        case "AuthorizationHeaderMalformed", "PermanentRedirect", "IllegalLocationConstraintException":
            let region = headers["x-amz-bucket-region"].map { "; the bucket is in region \($0), set --s3-region \($0)" } ?? ""
            return .accessDenied(store: location, detail: "\(subject) was refused: \(summary)\(region)")
        case "QuotaExceeded", "EntityTooLarge", "InsufficientStorage":
            return .storageFull(store: location, detail: "\(subject): \(summary)")
        default:
            break
        }
        if status == 403 {
            return .accessDenied(store: location, detail: "\(subject) was denied for the credentials from \(credentials) (HTTP 403)")
        }
        if status == 507 {
            return .storageFull(store: location, detail: "\(subject): \(summary)")
        }
        return .unavailable(store: location, detail: "\(subject) failed: \(summary)")
    }
}
