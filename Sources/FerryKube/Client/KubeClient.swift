import FerryHTTP
import Foundation
import Synchronization

/// A Kubernetes API client over libcurl (FerryHTTP): authentication from a kubeconfig or the
/// pod's service account, client-side rate limiting, retries of throttled and failing requests
/// (honouring Retry-After), typed errors from Status bodies, discovery, unstructured CRUD,
/// patches, the status subresource and watches.
public final class KubeClient: KubeAPI, Sendable {
    public let configuration: KubeClientConfiguration
    let credentials: CredentialProvider
    let limiter: RateLimiter
    /// Told of every request sent (nil: none is counted).
    let observer: KubeRequestObserver?
    private let transport = Mutex<(key: TLSIdentity, client: HTTPClient)?>(nil)
    private let catalogCache = Mutex<APIResourceCatalog?>(nil)

    /// The TLS material an HTTP client is built with; a new client cert (exec plugin) needs a new client.
    struct TLSIdentity: Hashable {
        var clientCertificate: PEMSource?
        var clientKey: PEMSource?
    }

    public init(configuration: KubeClientConfiguration, observer: KubeRequestObserver? = nil) {
        self.configuration = configuration
        self.observer = observer
        self.credentials = CredentialProvider(configuration: configuration)
        self.limiter = RateLimiter(rate: configuration.queriesPerSecond, burst: configuration.burst)
    }

    deinit {
        transport.withLock { $0?.client.shutdown() }
    }

    /// The client kubectl would build: `kubeconfig` (or KUBECONFIG, or ~/.kube/config) and its
    /// context, else the in-cluster service account.
    public static func fromEnvironment(
        kubeconfig: String? = nil, context: String? = nil, namespace: String? = nil, observer: KubeRequestObserver? = nil
    ) throws(KubeError) -> KubeClient {
        var configuration = try KubeClientConfiguration.fromEnvironment(kubeconfig: kubeconfig, context: context)
        if let namespace { configuration.namespace = namespace }
        return KubeClient(configuration: configuration, observer: observer)
    }

    // MARK: - HTTP

    func httpClient(for credentials: RequestCredentials) throws(KubeError) -> HTTPClient {
        let key = TLSIdentity(clientCertificate: credentials.clientCertificate, clientKey: credentials.clientKey)
        return try transport.withLock { current throws(KubeError) -> HTTPClient in
            if let current, current.key == key { return current.client }
            current?.client.shutdown()
            let tls = HTTPTLSConfiguration(
                certificateAuthorities: configuration.certificateAuthority.map(Self.pem),
                clientCertificate: key.clientCertificate.map(Self.pem), clientKey: key.clientKey.map(Self.pem),
                insecureSkipVerify: configuration.insecureSkipTLSVerify)
            let client: HTTPClient
            do {
                client = try HTTPClient(
                    configuration: HTTPClientConfiguration(
                        tls: tls,
                        timeouts: HTTPTimeouts(connect: configuration.connectTimeout, total: nil, stall: configuration.requestTimeout),
                        maxConcurrentTransfers: 32, maxResponseBodySize: 512 << 20, expectContinue: false,
                        userAgent: configuration.userAgent))
            } catch {
                throw KubeError.tls(server: configuration.server, reason: "\(error)")
            }
            current = (key, client)
            return client
        }
    }

    static func pem(_ source: PEMSource) -> HTTPTLSConfiguration.PEMSource {
        switch source {
        case .file(let path): return .file(path)
        case .data(let bytes): return .data(bytes)
        }
    }

    /// Percent-encodes a query value (selectors contain spaces, commas, parentheses, `!`, `=`).
    static func encode(_ value: String) -> String {
        var out = ""
        for byte in value.utf8 {
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
                UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "~"):
                out.unicodeScalars.append(Unicode.Scalar(byte))
            default:
                out += "%" + String(byte, radix: 16, uppercase: true).leftPadded(to: 2)
            }
        }
        return out
    }

    func url(_ path: String, query: [(String, String)]) -> String {
        var url = configuration.server + path
        if !query.isEmpty {
            url += "?" + query.map { "\(Self.encode($0.0))=\(Self.encode($0.1))" }.joined(separator: "&")
        }
        return url
    }

    static func mapTransport(_ error: HTTPError, server: String) -> KubeError {
        switch error {
        case .tlsVerificationFailed(_, let detail), .tlsHandshakeFailed(_, let detail):
            return .tls(server: server, reason: detail)
        case .tlsConfiguration(let detail):
            return .tls(server: server, reason: detail)
        case .connectionRefused:
            return .unreachable(server: server, reason: "connection refused (is the API server running, is the address right?)")
        case .couldNotResolve(let host, _):
            return .unreachable(server: server, reason: "cannot resolve host \(host)")
        case .timedOut(_, let detail):
            return .unreachable(server: server, reason: "timed out: \(detail)")
        case .connectionFailed(_, let detail), .connectionReset(_, let detail), .truncatedResponse(_, let detail),
            .transport(_, _, let detail):
            // TLS 1.3 reports a refused client certificate after the handshake, as a read error.
            if isTLSFailure(detail) {
                return .tls(server: server, reason: detail)
            }
            return .unreachable(server: server, reason: detail)
        case .responseTooLarge(_, let limit):
            return .invalidResponse("the answer is larger than \(limit) bytes")
        default:
            return .unreachable(server: server, reason: error.description)
        }
    }

    static func isTLSFailure(_ detail: String) -> Bool {
        detail.contains("SSL") || detail.contains("TLS") || detail.contains("certificate")
    }

    /// The error an unsuccessful answer stands for: its Status body, or one made from the code.
    static func error(status: Int, body: [UInt8]) -> KubeError {
        if let json = try? JSONValue(parsing: body), let decoded = APIStatus(json: json) {
            var decoded = decoded
            if decoded.code == 0 { decoded.code = status }
            return KubeError(status: decoded)
        }
        let reasons = [
            400: "BadRequest", 401: "Unauthorized", 403: "Forbidden", 404: "NotFound", 405: "MethodNotAllowed",
            409: "Conflict", 410: "Gone", 415: "UnsupportedMediaType", 422: "Invalid", 429: "TooManyRequests",
            500: "InternalError", 503: "ServiceUnavailable", 504: "Timeout",
        ]
        let text = String(decoding: body.prefix(300), as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        return KubeError(status: APIStatus(code: status, reason: reasons[status] ?? "", message: text.isEmpty ? "HTTP \(status)" : text))
    }

    /// Sends one request with rate limiting, credentials, retries and error decoding.
    public func send(
        _ method: String, _ path: String, query: [(String, String)] = [], body: [UInt8]? = nil,
        contentType: String = "application/json", accept: String = "application/json", idempotent: Bool? = nil
    ) async throws(KubeError) -> (status: Int, headers: HTTPHeaders, body: [UInt8]) {
        let idempotent = idempotent ?? (method == "GET" || method == "PUT" || method == "DELETE")
        var attempt = 0
        var refreshedCredentials = false
        while true {
            do {
                try await limiter.acquire()
            } catch {
                throw KubeError.unreachable(server: configuration.server, reason: "cancelled")
            }
            let creds = try await credentials.credentials()
            let client = try httpClient(for: creds)
            var headers = HTTPHeaders()
            headers.add("Accept", accept)
            if let authorization = creds.authorization { headers.add("Authorization", authorization) }
            if body != nil { headers.add("Content-Type", contentType) }
            let request = HTTPRequest(
                method: HTTPMethod(method), url: url(path, query: query), headers: headers,
                body: body.map { .bytes($0) } ?? .empty,
                timeouts: HTTPTimeouts(
                    connect: configuration.connectTimeout, total: configuration.requestTimeout, stall: configuration.requestTimeout))
            let response: HTTPResponse
            do {
                response = try await client.send(request)
                observe(method, path, query: query, status: response.status)
            } catch {
                observe(method, path, query: query, status: 0)
                // Mid-flight breaks of idempotent requests are retried; refusals and TLS are not.
                let retryable: Bool
                switch error {
                case .connectionReset(_, let detail), .truncatedResponse(_, let detail):
                    retryable = idempotent && !Self.isTLSFailure(detail)
                default: retryable = false
                }
                if retryable && attempt < configuration.maxRetries {
                    attempt += 1
                    try await backoff(attempt: attempt, retryAfter: nil)
                    continue
                }
                throw Self.mapTransport(error, server: configuration.server)
            }
            if (200..<300).contains(response.status) { return (response.status, response.headers, response.body) }
            if response.status == 401, !refreshedCredentials {
                refreshedCredentials = true
                await credentials.invalidate()
                if case .exec = configuration.credentials { continue }
                if case .tokenFile = configuration.credentials { continue }
            }
            let retryAfter = response.headers["Retry-After"].flatMap { Int($0.trimmingCharacters(in: .whitespaces)) }
            let throttled = response.status == 429 || response.status >= 500
            if throttled && attempt < configuration.maxRetries && (retryAfter != nil || (idempotent && response.status != 501)) {
                attempt += 1
                try await backoff(attempt: attempt, retryAfter: retryAfter)
                continue
            }
            throw Self.error(status: response.status, body: response.body)
        }
    }

    func observe(_ method: String, _ path: String, query: [(String, String)], status: Int) {
        observer?.observe(KubeRequestRecord(method: method, path: path, query: query, status: status))
    }

    func backoff(attempt: Int, retryAfter: Int?) async throws(KubeError) {
        let seconds: Double
        if let retryAfter {
            seconds = Double(max(0, retryAfter))
        } else {
            seconds = min(0.1 * pow(2, Double(attempt - 1)), 5) * Double.random(in: 0.8...1.2)
        }
        let cap = Double(configuration.maxRetryDelay.components.seconds)
        do {
            try await Task.sleep(for: .seconds(min(seconds, cap)))
        } catch {
            throw KubeError.unreachable(server: configuration.server, reason: "cancelled while waiting to retry")
        }
    }

    /// Sends a request and decodes its JSON answer.
    public func json(
        _ method: String, _ path: String, query: [(String, String)] = [], body: JSONValue? = nil,
        contentType: String = "application/json", idempotent: Bool? = nil
    ) async throws(KubeError) -> JSONValue {
        let response = try await send(
            method, path, query: query, body: body?.serialized(), contentType: contentType, idempotent: idempotent)
        do {
            return try JSONValue(parsing: response.body)
        } catch {
            throw KubeError.invalidResponse("\(method) \(path): \(error)")
        }
    }

    // MARK: - Catalog cache

    func cachedCatalog() -> APIResourceCatalog? { catalogCache.withLock { $0 } }
    func storeCatalog(_ catalog: APIResourceCatalog) { catalogCache.withLock { $0 = catalog } }
}
