import FerryHTTP
import FerryS3TestSupport
import Foundation
import Synchronization
import Testing

/// Requests and responses against a loopback server that records what arrived.
@Suite struct HTTPClientTests {
    /// Replies with what it received: method, target, selected headers and a digest of the body.
    static func echoServer() throws -> LoopbackHTTPServer {
        try LoopbackHTTPServer { request in
            var headers: [(name: String, value: String)] = [
                ("X-Method", request.method), ("X-Target", request.target), ("X-Body-Length", String(request.body.count)),
            ]
            if let value = request.header("X-Custom") { headers.append(("X-Echo-Custom", value)) }
            if let value = request.header("Transfer-Encoding") { headers.append(("X-Transfer-Encoding", value)) }
            return .response(WireResponse(status: 200, headers: headers, body: request.body))
        }
    }

    @Test func getReturnsStatusHeadersAndBody() async throws {
        let server = try LoopbackHTTPServer { request in
            .response(
                WireResponse(
                    status: 203, headers: [("X-Thing", "a b"), ("X-Multi", "1"), ("x-multi", "2")],
                    body: Array("hello \(request.target)".utf8)))
        }
        let client = try HTTPClient()
        let response = try await client.send(HTTPRequest(url: server.baseURL + "/path?q=1"))
        #expect(response.status == 203)
        #expect(response.headers["x-thing"] == "a b")
        #expect(response.headers.values("X-MULTI") == ["1", "2"])
        #expect(response.text == "hello /path?q=1")
    }

    @Test func methodsHeadersAndBodiesArriveIntact() async throws {
        let server = try Self.echoServer()
        let client = try HTTPClient()
        let payload = (0..<(3 << 20)).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ $0 >> 9) }
        for method in [HTTPMethod.put, .post, .patch] {
            var request = HTTPRequest(method: method, url: server.baseURL + "/obj", body: .bytes(payload))
            request.headers.add("X-Custom", "value-\(method)")
            let response = try await client.send(request)
            #expect(response.headers["X-Method"] == method.rawValue)
            #expect(response.headers["X-Echo-Custom"] == "value-\(method)")
            #expect(response.body == payload)
        }
        let slice = payload[1000..<5000]
        let sliced = try await client.send(HTTPRequest(method: .put, url: server.baseURL + "/part", body: .bytes(slice)))
        #expect(sliced.body == Array(slice))

        let deleted = try await client.send(HTTPRequest(method: .delete, url: server.baseURL + "/obj"))
        #expect(deleted.headers["X-Method"] == "DELETE")
        #expect(deleted.body.isEmpty)

        let emptyPost = try await client.send(HTTPRequest(method: .post, url: server.baseURL + "/empty"))
        #expect(emptyPost.headers["X-Method"] == "POST")
        #expect(emptyPost.headers["X-Body-Length"] == "0")

        let head = try await client.send(HTTPRequest(method: .head, url: server.baseURL + "/obj"))
        #expect(head.status == 200)
        #expect(head.headers["X-Method"] == "HEAD")
        #expect(head.body.isEmpty)
    }

    @Test func streamedRequestBodiesWithAndWithoutLength() async throws {
        let server = try Self.echoServer()
        let client = try HTTPClient(configuration: HTTPClientConfiguration(timeouts: Self.patient, streamBufferSize: 64 << 10))
        let chunks = (0..<40).map { index in [UInt8](repeating: UInt8(index), count: 50_000 + index) }
        let expected = chunks.flatMap { $0 }

        let known = try await client.send(
            HTTPRequest(
                method: .put, url: server.baseURL + "/known",
                body: .stream(length: Int64(expected.count), ChunkSequence(chunks: chunks))))
        #expect(known.body == expected)
        #expect(known.headers["X-Transfer-Encoding"] == nil)

        let unknown = try await client.send(
            HTTPRequest(method: .post, url: server.baseURL + "/unknown", body: .stream(ChunkSequence(chunks: chunks))))
        #expect(unknown.body == expected)
        #expect(unknown.headers["X-Transfer-Encoding"] == "chunked")
    }

    @Test func streamedBodyOfTheWrongLengthOrFailingIsAnError() async throws {
        let server = try Self.echoServer()
        let client = try HTTPClient(configuration: HTTPClientConfiguration(timeouts: Self.patient))
        let chunks = [[UInt8](repeating: 1, count: 1000)]
        await #expect {
            _ = try await client.send(
                HTTPRequest(method: .put, url: server.baseURL + "/x", body: .stream(length: 999, ChunkSequence(chunks: chunks))))
        } throws: { error in
            guard case let .bodySourceFailed(_, detail) = error as? HTTPError else { return false }
            return detail.contains("999")
        }
        await #expect {
            _ = try await client.send(
                HTTPRequest(method: .put, url: server.baseURL + "/x", body: .stream(length: 2000, ChunkSequence(chunks: chunks))))
        } throws: { error in
            guard case let .bodySourceFailed(_, detail) = error as? HTTPError else { return false }
            return detail.contains("1000") && detail.contains("2000")
        }
        await #expect {
            _ = try await client.send(
                HTTPRequest(method: .put, url: server.baseURL + "/x", body: .stream(ChunkSequence(chunks: chunks, failAfter: 1))))
        } throws: { error in
            guard case let .bodySourceFailed(_, detail) = error as? HTTPError else { return false }
            return detail.contains("chunk source failed")
        }
    }

    @Test func connectionsAreReused() async throws {
        let server = try Self.echoServer()
        let client = try HTTPClient()
        for index in 0..<20 {
            let response = try await client.send(HTTPRequest(method: .put, url: server.baseURL + "/\(index)", body: .string("x\(index)")))
            #expect(response.text == "x\(index)")
        }
        #expect(server.connectionsAccepted == 1)
    }

    @Test func transfersRunConcurrentlyUpToTheLimit() async throws {
        let limit = 4
        let state = Mutex((current: 0, maximum: 0))
        let allArrived = Gate()
        let server = try LoopbackHTTPServer { request in
            let now = state.withLock { state in
                state.current += 1
                state.maximum = max(state.maximum, state.current)
                return state.current
            }
            if now == limit { allArrived.open() }
            allArrived.wait()
            state.withLock { $0.current -= 1 }
            return .response(WireResponse(status: 200, body: Array(request.target.utf8)))
        }
        let client = try HTTPClient(configuration: HTTPClientConfiguration(maxConcurrentTransfers: limit))
        let targets = try await withThrowingTaskGroup(of: String.self) { group in
            for index in 0..<24 {
                group.addTask { try await client.send(HTTPRequest(url: server.baseURL + "/\(index)")).text }
            }
            return try await group.reduce(into: Set<String>()) { $0.insert($1) }
        }
        #expect(targets == Set((0..<24).map { "/\($0)" }))
        #expect(state.withLock { $0.maximum } == limit)
    }

    @Test func responseLargerThanTheLimitFails() async throws {
        let server = try LoopbackHTTPServer { _ in .response(WireResponse(status: 200, body: [UInt8](repeating: 7, count: 100_000))) }
        let client = try HTTPClient()
        await #expect(throws: HTTPError.responseTooLarge(url: server.baseURL + "/big", limit: 50_000)) {
            _ = try await client.send(HTTPRequest(url: server.baseURL + "/big?sig=secret", maxResponseBodySize: 50_000))
        }
        let fits = try await client.send(HTTPRequest(url: server.baseURL + "/big", maxResponseBodySize: 100_000))
        #expect(fits.body.count == 100_000)
    }

    @Test func invalidRequestsAreRejectedBeforeSending() async throws {
        let client = try HTTPClient()
        await #expect {
            _ = try await client.send(HTTPRequest(url: "ftp://127.0.0.1/x"))
        } throws: { error in
            guard case .invalidRequest = error as? HTTPError else { return false }
            return true
        }
        var request = HTTPRequest(url: "http://127.0.0.1:1/x")
        request.headers.add("X-Bad", "a\r\nInjected: yes")
        await #expect {
            _ = try await client.send(request)
        } throws: { error in
            guard case let .invalidRequest(detail) = error as? HTTPError else { return false }
            return detail.contains("X-Bad")
        }
    }

    @Test func headersRedactCredentials() {
        let headers: HTTPHeaders = [
            "Authorization": "AWS4-HMAC-SHA256 Credential=x, Signature=abc", "X-Amz-Security-Token": "tok", "Host": "h",
        ]
        let text = headers.description
        #expect(!text.contains("Signature=abc"))
        #expect(!text.contains("tok"))
        #expect(text.contains("Host: h"))
        #expect(HTTPRequest(url: "https://user:pw@host:9/path?X-Amz-Signature=s").redactedURL == "https://host:9/path")
    }
}

/// Chunks handed out one by one, optionally failing part way.
struct ChunkSequence: AsyncSequence, Sendable {
    typealias Element = [UInt8]
    let chunks: [[UInt8]]
    var failAfter: Int?

    struct SourceFailure: Error, CustomStringConvertible {
        var description: String { "chunk source failed" }
    }

    struct AsyncIterator: AsyncIteratorProtocol {
        let chunks: [[UInt8]]
        let failAfter: Int?
        var index = 0

        mutating func next() async throws -> [UInt8]? {
            if let failAfter, index == failAfter { throw SourceFailure() }
            guard index < chunks.count else { return nil }
            defer { index += 1 }
            await Task.yield()
            return chunks[index]
        }
    }

    func makeAsyncIterator() -> AsyncIterator {
        AsyncIterator(chunks: chunks, failAfter: failAfter)
    }
}

extension HTTPClientTests {
    /// No stall timeout: streamed bodies are produced by tasks on the cooperative pool, which the
    /// whole parallel test run shares; these tests check behaviour, not speed.
    static let patient = HTTPTimeouts(stall: nil)
}

extension HTTPStreamingTests {
    static let patient = HTTPTimeouts(stall: nil)
}
