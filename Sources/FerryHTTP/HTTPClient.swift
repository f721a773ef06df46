import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// An HTTP/1.1 and HTTP/2 client over libcurl, for the S3 object store and the Kubernetes API
/// client.
///
/// Requests are async; many can be in flight at once. Each client runs `ioThreads` I/O threads,
/// each driving one curl multi handle whose connection cache keeps connections open for reuse,
/// and starts at most `maxConcurrentTransfers` transfers at a time (per thread); further requests
/// wait in order. HTTP status codes are never errors here: `send` returns any response and the
/// caller decides what it means. `HTTPError` is only for requests that got no (complete) response.
///
/// Cancelling the task that awaits a request stops the transfer. Call `shutdown()` when done;
/// dropping the last reference does the same.
public final class HTTPClient: Sendable {
    public let configuration: HTTPClientConfiguration
    private let engines: [CurlEngine]
    private let nextEngine = Atomic<Int>(0)

    /// Creates a client. Fails when TLS files named in the configuration cannot be read.
    public init(configuration: HTTPClientConfiguration = HTTPClientConfiguration()) throws(HTTPError) {
        for (what, source) in [
            ("CA file", configuration.tls.certificateAuthorities), ("client certificate", configuration.tls.clientCertificate),
            ("client key", configuration.tls.clientKey),
        ] {
            if case let .file(path) = source, access(path, R_OK) != 0 {
                throw HTTPError.tlsConfiguration(detail: "cannot read the \(what) \(path): \(String(cString: strerror(errno)))")
            }
        }
        if (configuration.tls.clientCertificate == nil) != (configuration.tls.clientKey == nil) {
            throw HTTPError.tlsConfiguration(detail: "a client certificate needs its key, and a key its certificate")
        }
        for entry in configuration.resolve where entry.split(separator: ":").count < 3 {
            throw HTTPError.invalidRequest("resolve entry \"\(entry)\" is not HOST:PORT:ADDRESS")
        }
        self.configuration = configuration
        engines = (0..<configuration.ioThreads).map { _ in CurlEngine(configuration: configuration) }
        for engine in engines { engine.start() }
    }

    deinit {
        shutdown()
    }

    /// Fails every request in flight or queued with `HTTPError.shutdown` and stops the I/O
    /// threads. Later requests fail the same way.
    public func shutdown() {
        for engine in engines { engine.stop() }
    }

    /// Sends `request` and returns the whole response.
    public func send(_ request: HTTPRequest) async throws(HTTPError) -> HTTPResponse {
        try Self.validate(request)
        let engine = pickEngine()
        let pipe = makePipe(for: request)
        let transfer = CurlTransfer(
            request: request, bodyLimit: request.maxResponseBodySize ?? configuration.maxResponseBodySize, uploadPipe: pipe)
        pipe?.attach(engine.control(for: transfer))
        startProducer(for: transfer)
        let result = await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                transfer.delivery = .buffered(continuation)
                engine.submit(transfer)
            }
        } onCancel: {
            engine.cancel(transfer)
        }
        return try result.get()
    }

    /// Sends `request` and returns as soon as the response's status and headers have arrived;
    /// the body follows through `HTTPStreamingResponse.body` (watches, large downloads). Reading
    /// slower than the server sends pauses the transfer rather than buffering without bound.
    /// The transfer is cancelled when the body is dropped unread.
    public func stream(_ request: HTTPRequest) async throws(HTTPError) -> HTTPStreamingResponse {
        try Self.validate(request)
        let engine = pickEngine()
        let pipe = makePipe(for: request)
        let stream = ResponseStream(limit: configuration.streamBufferSize)
        let transfer = CurlTransfer(request: request, bodyLimit: .max, uploadPipe: pipe)
        transfer.delivery = .streaming(stream)
        let control = engine.control(for: transfer)
        pipe?.attach(control)
        stream.attach(control)
        startProducer(for: transfer)
        let handle = StreamHandle(stream)
        engine.submit(transfer)
        let head = await withTaskCancellationHandler {
            await stream.head()
        } onCancel: {
            engine.cancel(transfer)
        }
        let (status, headers) = try head.get()
        return HTTPStreamingResponse(status: status, headers: headers, body: HTTPResponseBody(handle: handle))
    }

    // MARK: - Helpers

    private func pickEngine() -> CurlEngine {
        if engines.count == 1 { return engines[0] }
        let index = nextEngine.wrappingAdd(1, ordering: .relaxed).oldValue
        return engines[index % engines.count]
    }

    private func makePipe(for request: HTTPRequest) -> UploadPipe? {
        guard case let .stream(length, _) = request.body.storage else { return nil }
        return UploadPipe(declaredLength: length, limit: configuration.streamBufferSize)
    }

    private func startProducer(for transfer: CurlTransfer) {
        guard let pipe = transfer.uploadPipe, case let .stream(_, chunks) = transfer.request.body.storage else { return }
        transfer.producer = Task {
            do {
                try await chunks.run { chunk in await pipe.push(chunk) }
                pipe.end()
            } catch {
                pipe.fail("\(error)")
            }
        }
    }

    static func validate(_ request: HTTPRequest) throws(HTTPError) {
        let url = request.url
        guard url.hasPrefix("http://") || url.hasPrefix("https://") else {
            throw HTTPError.invalidRequest("\(request.redactedURL) is not an http:// or https:// URL")
        }
        if url.utf8.contains(where: { $0 <= 0x20 || $0 == 0x7F }) {
            throw HTTPError.invalidRequest("\(request.redactedURL) contains spaces or control characters")
        }
        for (name, value) in request.headers {
            let badName = name.isEmpty || name.utf8.contains { $0 <= 0x20 || $0 >= 0x7F || $0 == UInt8(ascii: ":") }
            if badName { throw HTTPError.invalidRequest("invalid header name \"\(name)\"") }
            if value.utf8.contains(where: { $0 == 0x0D || $0 == 0x0A || $0 == 0 }) {
                throw HTTPError.invalidRequest("the value of header \(name) contains a line break")
            }
        }
    }
}
