/// A response whose body arrives while it is read: `HTTPClient.stream`'s result.
public struct HTTPStreamingResponse: Sendable {
    public var status: Int
    public var headers: HTTPHeaders
    /// The body, chunk by chunk. Read it once.
    public var body: HTTPResponseBody
}

/// The body of a streamed response as an async sequence of byte chunks (of no particular size).
/// It ends when the server ends the response and throws `HTTPError` when the transfer fails.
/// Dropping it (and its iterators) unread cancels the transfer.
public struct HTTPResponseBody: AsyncSequence, Sendable {
    public typealias Element = [UInt8]
    public typealias Failure = HTTPError

    let handle: StreamHandle

    public func makeAsyncIterator() -> Iterator {
        Iterator(handle: handle)
    }

    /// Stops the transfer; reading further throws `HTTPError.cancelled`.
    public func cancel() {
        handle.stream.cancel()
    }

    /// Reads the rest of the body into memory, failing beyond `limit` bytes.
    public func collect(upTo limit: Int) async throws(HTTPError) -> [UInt8] {
        var bytes: [UInt8] = []
        var iterator = makeAsyncIterator()
        while let chunk = try await iterator.next() {
            if bytes.count + chunk.count > limit {
                cancel()
                throw HTTPError.responseTooLarge(url: "the streamed response", limit: limit)
            }
            bytes += chunk
        }
        return bytes
    }

    /// The body split into lines (without their `\n` or `\r\n`), as watch streams send JSON
    /// objects one per line. A last line without a newline is returned too.
    public var lines: HTTPLineSequence { HTTPLineSequence(body: self) }

    public struct Iterator: AsyncIteratorProtocol {
        let handle: StreamHandle

        public mutating func next() async throws(HTTPError) -> [UInt8]? {
            try await handle.stream.next().get()
        }

        public mutating func next(isolation actor: isolated (any Actor)?) async throws(HTTPError) -> [UInt8]? {
            try await handle.stream.next().get()
        }
    }
}

/// The lines of a streamed response body (see `HTTPResponseBody.lines`).
public struct HTTPLineSequence: AsyncSequence, Sendable {
    public typealias Element = [UInt8]
    public typealias Failure = HTTPError

    let body: HTTPResponseBody

    public func makeAsyncIterator() -> Iterator {
        Iterator(chunks: body.makeAsyncIterator())
    }

    public struct Iterator: AsyncIteratorProtocol {
        var chunks: HTTPResponseBody.Iterator
        var pending: [UInt8] = []
        var scanned = 0
        var ended = false

        public mutating func next() async throws(HTTPError) -> [UInt8]? {
            while true {
                if let newline = pending[scanned...].firstIndex(of: UInt8(ascii: "\n")) {
                    var line = Array(pending[..<newline])
                    if line.last == UInt8(ascii: "\r") { line.removeLast() }
                    pending.removeFirst(newline + 1)
                    scanned = 0
                    return line
                }
                scanned = pending.count
                if ended {
                    if pending.isEmpty { return nil }
                    defer { pending = [] }
                    return pending
                }
                if let chunk = try await chunks.next() {
                    pending += chunk
                } else {
                    ended = true
                }
            }
        }
    }
}

/// Keeps a streamed transfer alive while its body is referenced; cancels it when dropped.
final class StreamHandle: Sendable {
    let stream: ResponseStream

    init(_ stream: ResponseStream) {
        self.stream = stream
    }

    deinit {
        stream.cancel()
    }
}
