import FerryHTTP
import FerryS3TestSupport
import Foundation
import Testing

/// Responses read while they arrive (Kubernetes watches, large downloads).
@Suite struct HTTPStreamingTests {
    @Test func linesArriveBeforeTheResponseEnds() async throws {
        let gates = (0..<3).map { _ in Gate() }
        let server = try LoopbackHTTPServer { _ in
            .raw { socket in
                try socket.write("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n")
                for (index, gate) in gates.enumerated() {
                    // The next event is sent only after the client has read the previous one.
                    let line = "{\"event\":\(index)}\n"
                    try socket.write(String(line.utf8.count, radix: 16) + "\r\n" + line + "\r\n")
                    gate.wait()
                }
                try socket.write("0\r\n\r\n")
            }
        }
        let client = try HTTPClient()
        var request = HTTPRequest(url: server.baseURL + "/watch")
        request.timeouts = HTTPTimeouts(connect: .seconds(5), total: nil, stall: nil)
        let response = try await client.stream(request)
        #expect(response.status == 200)
        #expect(response.headers["Content-Type"] == "application/json")
        var received: [String] = []
        for try await line in response.body.lines {
            received.append(String(decoding: line, as: UTF8.self))
            gates[received.count - 1].open()
        }
        #expect(received == ["{\"event\":0}", "{\"event\":1}", "{\"event\":2}"])
    }

    @Test func slowReaderPausesTheTransferWithoutLosingBytes() async throws {
        let size = 8 << 20
        let payload = (0..<size).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ $0 >> 13) }
        let server = try LoopbackHTTPServer { _ in .response(WireResponse(status: 200, body: payload)) }
        let client = try HTTPClient(configuration: HTTPClientConfiguration(timeouts: Self.patient, streamBufferSize: 64 << 10))
        let response = try await client.stream(HTTPRequest(url: server.baseURL + "/big"))
        var received: [UInt8] = []
        received.reserveCapacity(size)
        for try await chunk in response.body {
            received += chunk
            await Task.yield()
        }
        #expect(received.count == size)
        #expect(received == payload)
    }

    @Test func droppingTheBodyCancelsTheTransfer() async throws {
        let writerStopped = Gate()
        let server = try LoopbackHTTPServer { _ in
            .raw { socket in
                defer { writerStopped.open() }
                try socket.write("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
                let chunk = [UInt8](repeating: 65, count: 16 << 10)
                while true {
                    try socket.write(Array("4000\r\n".utf8) + chunk + Array("\r\n".utf8))
                }
            }
        }
        let client = try HTTPClient(configuration: HTTPClientConfiguration(timeouts: Self.patient, streamBufferSize: 64 << 10))
        do {
            let response = try await client.stream(HTTPRequest(url: server.baseURL + "/endless"))
            var iterator = response.body.makeAsyncIterator()
            let first = try await iterator.next()
            #expect(first?.isEmpty == false)
        }
        // The server's writes fail once the client has closed the connection.
        await writerStopped.opened()
    }

    @Test func errorBeforeTheHeadIsThrownByStream() async throws {
        let server = try LoopbackHTTPServer { _ in .drop }
        let client = try HTTPClient()
        await #expect {
            _ = try await client.stream(HTTPRequest(url: server.baseURL + "/x"))
        } throws: { error in
            guard case .connectionReset = error as? HTTPError else { return false }
            return true
        }
    }

    @Test func errorAfterTheHeadIsThrownByTheBody() async throws {
        let server = try LoopbackHTTPServer { _ in
            .raw { socket in
                try socket.write("HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n")
                try socket.write([UInt8](repeating: 1, count: 1000))
            }
        }
        let client = try HTTPClient()
        let response = try await client.stream(HTTPRequest(url: server.baseURL + "/x"))
        #expect(response.status == 200)
        await #expect {
            _ = try await response.body.collect(upTo: 1 << 20)
        } throws: { error in
            guard case .truncatedResponse = error as? HTTPError else { return false }
            return true
        }
    }
}
