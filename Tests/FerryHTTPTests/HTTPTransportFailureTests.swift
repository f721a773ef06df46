import FerryHTTP
import FerryS3TestSupport
import Foundation
import Testing

/// Every transport failure surfaces as its own `HTTPError` case with a message naming the server.
@Suite struct HTTPTransportFailureTests {
    @Test func connectionRefused() async throws {
        let port = try FreePort.find()
        let client = try HTTPClient()
        await #expect(throws: HTTPError.connectionRefused(url: "http://127.0.0.1:\(port)/x")) {
            _ = try await client.send(HTTPRequest(url: "http://127.0.0.1:\(port)/x"))
        }
        #expect(HTTPError.connectionRefused(url: "u").isTransient)
        #expect(HTTPError.connectionRefused(url: "http://h:1/x").description.contains("is the server running"))
    }

    @Test func unresolvableHost() async throws {
        let client = try HTTPClient()
        await #expect {
            _ = try await client.send(HTTPRequest(url: "http://ferry-no-such-host.invalid/x"))
        } throws: { error in
            guard case let .couldNotResolve(host, _) = error as? HTTPError else { return false }
            return host == "ferry-no-such-host.invalid"
        }
    }

    @Test func closedWithoutResponse() async throws {
        let server = try LoopbackHTTPServer { _ in .drop }
        let client = try HTTPClient()
        await #expect {
            _ = try await client.send(HTTPRequest(url: server.baseURL + "/x"))
        } throws: { error in
            guard let error = error as? HTTPError, case let .connectionReset(_, detail) = error else { return false }
            return error.isTransient && detail.contains("without sending a response")
        }
    }

    @Test func resetByPeer() async throws {
        let server = try LoopbackHTTPServer { _ in .reset }
        let client = try HTTPClient()
        await #expect {
            _ = try await client.send(HTTPRequest(method: .put, url: server.baseURL + "/x", body: .bytes([UInt8](repeating: 1, count: 10))))
        } throws: { error in
            guard let error = error as? HTTPError, case .connectionReset = error else { return false }
            return error.isTransient
        }
    }

    @Test func truncatedBody() async throws {
        let server = try LoopbackHTTPServer { _ in
            .raw { socket in
                try socket.write("HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n")
                try socket.write([UInt8](repeating: 9, count: 400))
            }
        }
        let client = try HTTPClient()
        await #expect {
            _ = try await client.send(HTTPRequest(url: server.baseURL + "/x"))
        } throws: { error in
            guard let error = error as? HTTPError, case .truncatedResponse = error else { return false }
            return error.isTransient
        }
    }

    @Test func stalledServerTimesOut() async throws {
        let release = Gate()
        let server = try LoopbackHTTPServer { _ in
            release.wait()
            return .drop
        }
        defer { release.open() }
        let client = try HTTPClient()
        var request = HTTPRequest(url: server.baseURL + "/slow")
        request.timeouts = HTTPTimeouts(connect: .seconds(5), total: nil, stall: .seconds(1))
        await #expect {
            _ = try await client.send(request)
        } throws: { error in
            guard let error = error as? HTTPError, case .timedOut = error else { return false }
            return error.isTransient
        }
    }

    @Test func cancellingTheTaskStopsTheTransfer() async throws {
        let arrived = Gate()
        let release = Gate()
        let server = try LoopbackHTTPServer { _ in
            arrived.open()
            release.wait()
            return .drop
        }
        defer { release.open() }
        let client = try HTTPClient()
        let task = Task { try await client.send(HTTPRequest(url: server.baseURL + "/hang")) }
        await arrived.opened()
        task.cancel()
        await #expect(throws: HTTPError.cancelled(url: server.baseURL + "/hang")) {
            _ = try await task.value
        }
    }

    @Test func shutdownFailsRequests() async throws {
        let arrived = Gate()
        let release = Gate()
        let server = try LoopbackHTTPServer { _ in
            arrived.open()
            release.wait()
            return .drop
        }
        defer { release.open() }
        let client = try HTTPClient()
        let task = Task { try await client.send(HTTPRequest(url: server.baseURL + "/hang")) }
        await arrived.opened()
        client.shutdown()
        await #expect(throws: HTTPError.shutdown) { _ = try await task.value }
        await #expect(throws: HTTPError.shutdown) { _ = try await client.send(HTTPRequest(url: server.baseURL + "/later")) }
    }
}
