import FerryDigest
import FerryHTTP

/// One S3 API call before signing: method, key (nil for the bucket), query, extra headers, body.
struct S3Request: Sendable {
    var method: HTTPMethod
    var key: String?
    var query: [(String, String)] = []
    var headers = HTTPHeaders()
    var body: ArraySlice<UInt8> = []
    /// Hex SHA-256 of `body`, signed as `x-amz-content-sha256`.
    var payloadHash: String = S3Signer.emptyPayloadHash
    /// For messages: "PUT", "GET", "LIST"...
    var operation: String
    /// The object name (without the store's prefix) for messages.
    var name: String?
    var maxResponseBodySize: Int = 1 << 20
}

extension S3Request {
    /// A request whose body is an XML document (DeleteObjects, PutObjectRetention), with the
    /// `Content-MD5` those calls require; `extra` headers are added.
    static func xml(
        method: HTTPMethod, key: String?, query: [(String, String)], _ document: String, extra: HTTPHeaders = HTTPHeaders(),
        operation: String, name: String?
    ) -> S3Request {
        let body = Array(("<?xml version=\"1.0\" encoding=\"UTF-8\"?>" + document).utf8)
        var headers = extra
        headers.add("Content-Type", "application/xml")
        headers.add("Content-MD5", ByteText.base64(Hash.md5(body)))
        return S3Request(
            method: method, key: key, query: query, headers: headers, body: body[...], payloadHash: ByteText.hex(Hash.sha256(body)),
            operation: operation, name: name)
    }
}

extension S3Store {
    /// Signs and sends `request`, retrying transient failures with backoff and jitter, and
    /// returns the last response whatever its status (callers interpret 404, 412...). Throws
    /// `ObjectStoreError` when no response came through or retries ran out.
    func send(_ request: S3Request) async throws -> HTTPResponse {
        let policy = configuration.retry
        var attempt = 0
        var refreshedCredentials = false
        var lastProblem = ""
        let subject = request.name.map { "\(request.operation) \($0)" } ?? request.operation
        while true {
            attempt += 1
            let credentials = try await credentialsProvider.credentials()
            let http = signed(request, credentials: credentials)
            do {
                let response = try await client.send(http)
                if response.status >= 300 {
                    let error = S3ErrorResponse(response)
                    if error.isExpiredCredentials && !refreshedCredentials {
                        refreshedCredentials = true
                        await credentialsProvider.invalidate()
                        attempt -= 1
                        continue
                    }
                    if error.isRetryable && attempt < policy.maxAttempts {
                        lastProblem = error.summary
                        try await Task.sleep(for: policy.delay(afterAttempt: attempt))
                        continue
                    }
                    if error.isRetryable {
                        throw ObjectStoreError.unavailable(
                            store: location, detail: "\(subject) failed after \(attempt) attempts, last: \(error.summary)")
                    }
                }
                return response
            } catch let error as HTTPError {
                guard error.isTransient else {
                    throw ObjectStoreError.unavailable(store: location, detail: "\(subject): \(error)")
                }
                lastProblem = error.description
                if attempt >= policy.maxAttempts {
                    throw ObjectStoreError.unavailable(
                        store: location, detail: "\(subject) failed after \(attempt) attempts, last: \(lastProblem)")
                }
                try await Task.sleep(for: policy.delay(afterAttempt: attempt))
            }
        }
    }

    private func signed(_ request: S3Request, credentials: S3Credentials) -> HTTPRequest {
        let path = endpoint.path(key: request.key)
        var headers = request.headers
        headers.set("Host", endpoint.hostHeader)
        let time = Int(configuration.clock().timeIntervalSince1970)
        signer.sign(
            method: request.method.rawValue, path: path, query: request.query, headers: &headers, payloadHash: request.payloadHash,
            credentials: credentials, time: time)
        let url = endpoint.url(path: path, query: S3Signer.canonicalQuery(request.query))
        let body: HTTPBody = request.body.isEmpty ? .empty : .bytes(request.body)
        return HTTPRequest(method: request.method, url: url, headers: headers, body: body, maxResponseBodySize: request.maxResponseBodySize)
    }
}
