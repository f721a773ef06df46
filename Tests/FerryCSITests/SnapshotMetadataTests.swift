import FerryCSITestSupport
import FerryQEMUTestSupport
import FerryTestSupport
import FerryVolume
import Foundation
import Testing

@testable import FerryCSI

/// The CSI SnapshotMetadata client and change tracker against a real gRPC server over TLS that
/// serves the differences between two loop-device snapshots.
@Suite(.serialized, .enabled(if: LoopDevice.shouldRun, "needs root and losetup for loop devices"))
struct SnapshotMetadataTests {
    static let size = 16 << 20
    static let blockSize: Int64 = 64 << 10
    static let token = "audience-scoped-token-\(UUID().uuidString)"

    /// Two snapshots of one volume: `base` with data, `target` = base plus `writes`.
    final class Fixture: @unchecked Sendable {
        let dir: TemporaryDirectory
        let base: LoopDevice
        let target: LoopDevice
        let service: LoopSnapshotMetadataServer
        let certificates: TestCertificates

        init(writes: [(Int, Int)]) throws {
            dir = try TemporaryDirectory("csi")
            var bytes = [UInt8](repeating: 0, count: SnapshotMetadataTests.size)
            for i in stride(from: 0, to: 4 << 20, by: 1) { bytes[i] = UInt8(truncatingIfNeeded: i &* 31 &+ 7) }
            try Data(bytes).write(to: URL(fileURLWithPath: dir.file("base.img")))
            for (offset, length) in writes { for i in offset..<(offset + length) { bytes[i] = 0xC5 } }
            try Data(bytes).write(to: URL(fileURLWithPath: dir.file("target.img")))
            base = try LoopDevice(backing: dir.file("base.img"), readOnly: true)
            target = try LoopDevice(backing: dir.file("target.img"), readOnly: true)
            service = LoopSnapshotMetadataServer(
                snapshots: [
                    .init(name: "vm-disk-snap-1", handle: "snap-handle-1", device: base.path),
                    .init(name: "vm-disk-snap-2", handle: "snap-handle-2", device: target.path),
                ],
                token: SnapshotMetadataTests.token, namespace: "apps", blockSize: SnapshotMetadataTests.blockSize)
            certificates = try TestCertificates.make()
        }
    }

    static let writes = [(4096, 100), (1 << 20, 3 << 20), (9 << 20 + 65000, 1000), (size - 1, 1)]
    static var expectedDelta: [Range<Int64>] {
        BlockRangeList(writes.map { Int64($0.0)..<Int64($0.0 + $0.1) }).widened(toBlockSize: blockSize, size: Int64(size)).ranges
    }

    @Test("GetMetadataDelta and GetMetadataAllocated over TLS; the tracker's bookmark is the handle")
    func deltaAndAllocated() async throws {
        let fixture = try Fixture(writes: Self.writes)
        try await withSnapshotMetadataServer(fixture.service, certificates: fixture.certificates) { endpoint in
            let client = SnapshotMetadataClient(endpoint: endpoint, securityToken: Self.token, namespace: "apps", maxResults: 3)
            let delta = try #require(try await client.delta(baseSnapshotID: "snap-handle-1", targetSnapshotName: "vm-disk-snap-2"))
            #expect(delta.ranges == Self.expectedDelta)
            #expect(delta.volumeCapacity == Int64(Self.size) && delta.attempts == 1)

            let allocated = try #require(try await client.allocated(snapshotName: "vm-disk-snap-1"))
            #expect(allocated.ranges == [0..<(4 << 20)])

            let tracker = CSIChangeTracker(client: client, snapshotName: "vm-disk-snap-2", snapshotHandle: "snap-handle-2")
            let parent = CBTBookmark(provider: "csi", fields: ["snapshotHandle": "snap-handle-1"])
            #expect(try await tracker.changes(since: parent, size: Int64(Self.size)) == .changed(Self.expectedDelta))
            #expect(
                try await tracker.allocatedRanges(size: Int64(Self.size)) == [0..<(4 << 20)]
                    + Self.expectedDelta.filter { $0.lowerBound >= 4 << 20 })
            #expect(
                try await tracker.currentBookmark()
                    == CBTBookmark(
                        provider: "csi",
                        fields: [
                            "snapshotHandle": "snap-handle-2", "snapshotName": "vm-disk-snap-2", "namespace": "apps",
                        ]))
        }
    }

    @Test("an interrupted stream resumes from the end of the last range received")
    func resume() async throws {
        let fixture = try Fixture(writes: Self.writes)
        fixture.service.control.breakAfter.withLock { $0 = 2 }
        try await withSnapshotMetadataServer(fixture.service, certificates: fixture.certificates) { endpoint in
            let client = SnapshotMetadataClient(endpoint: endpoint, securityToken: Self.token, namespace: "apps", maxResults: 4)
            let delta = try #require(try await client.delta(baseSnapshotID: "snap-handle-1", targetSnapshotName: "vm-disk-snap-2"))
            #expect(delta.ranges == Self.expectedDelta)
            #expect(delta.attempts == 2)
            // Two messages of 4 blocks each: 64 KiB at 0, then 1 MiB onwards (7 blocks) → resume at 1 MiB + 7 × 64 KiB.
            let seen = fixture.service.control.seen.withLock { $0 }
            #expect(seen.map(\.startingOffset) == [0, (1 << 20) + 7 * Self.blockSize])
            #expect(seen.allSatisfy { $0.method == "delta" && $0.base == "snap-handle-1" && $0.target == "vm-disk-snap-2" })
        }
    }

    @Test("a missing base snapshot means fall back; a bad token is an error that does not show the token")
    func refusals() async throws {
        let fixture = try Fixture(writes: Self.writes)
        try await withSnapshotMetadataServer(fixture.service, certificates: fixture.certificates) { endpoint in
            let client = SnapshotMetadataClient(endpoint: endpoint, securityToken: Self.token, namespace: "apps")
            #expect(try await client.delta(baseSnapshotID: "deleted-handle", targetSnapshotName: "vm-disk-snap-2") == nil)
            let tracker = CSIChangeTracker(client: client, snapshotName: "vm-disk-snap-2", snapshotHandle: "snap-handle-2")
            let gone = try await tracker.changes(
                since: CBTBookmark(provider: "csi", fields: ["snapshotHandle": "deleted-handle"]), size: Int64(Self.size))
            guard case let .unusable(reason) = gone else { Issue.record("expected a refusal, got \(gone)"); return }
            #expect(reason.contains("deleted-handle"))
            #expect(
                try await tracker.changes(since: CBTBookmark(provider: "qcow2-bitmap", fields: [:]), size: Int64(Self.size)) != .changed([])
            )

            let wrongToken = SnapshotMetadataClient(endpoint: endpoint, securityToken: "stolen-\(Self.token)", namespace: "apps")
            do {
                _ = try await wrongToken.delta(baseSnapshotID: "snap-handle-1", targetSnapshotName: "vm-disk-snap-2")
                Issue.record("a wrong token was accepted")
            } catch let error as CSIError {
                #expect(error == .service(code: "unauthenticated", message: "invalid security token"))
                #expect(!"\(error)".contains(Self.token))
            }
        }
    }

    @Test("the server's certificate is verified: another CA's certificate is refused")
    func verification() async throws {
        let fixture = try Fixture(writes: [])
        let stranger = try TestCertificates.make(commonName: "Some other CA")
        try await withSnapshotMetadataServer(fixture.service, certificates: fixture.certificates) { endpoint in
            var untrusted = endpoint
            untrusted.caCertificatePEM = Array(stranger.caPEM.utf8)
            let client = SnapshotMetadataClient(endpoint: untrusted, securityToken: Self.token, namespace: "apps", maxAttempts: 1)
            await #expect(throws: (any Error).self) {
                _ = try await client.delta(baseSnapshotID: "snap-handle-1", targetSnapshotName: "vm-disk-snap-2")
            }
        }
    }

    @Test("endpoint from a SnapshotMetadataService custom resource")
    func endpointFromResource() throws {
        let yaml = try String(contentsOfFile: "\(FixturePaths.kube)/csi/snapshot-metadata/snapshotmetadataservice.yaml", encoding: .utf8)
        func field(_ name: String) -> String? {
            yaml.split(separator: "\n").first { $0.trimmingCharacters(in: .whitespaces).hasPrefix("\(name):") }
                .map { String($0.split(separator: ":", maxSplits: 1)[1]).trimmingCharacters(in: .whitespaces) }
        }
        let endpoint = try SnapshotMetadataEndpoint(address: try #require(field("address")), caCertBase64: field("caCert"))
        #expect(endpoint.host == "csi-snapshot-metadata.default" && endpoint.port == 6443 && !endpoint.plaintext)
        #expect(String(decoding: endpoint.caCertificatePEM ?? [], as: UTF8.self).hasPrefix("-----BEGIN CERTIFICATE-----"))
        #expect(throws: CSIError.self) { try SnapshotMetadataEndpoint(address: "no-port", caCertBase64: nil) }
        #expect(throws: CSIError.self) { try SnapshotMetadataEndpoint(address: "host:443", caCertBase64: "bm90IGEgY2VydA==") }
    }
}

/// The recorded Kubernetes fixtures in this repository (`Tests/Fixtures/kube`, see its SOURCES.md).
enum FixturePaths {
    static var kube: String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("Fixtures/kube").path
    }
}
