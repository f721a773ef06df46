import FerryCSITestSupport
import FerryQEMUTestSupport
import FerryTestSupport
import Foundation
import Testing

@testable import FerryCSI

/// `ferry backup --cbt csi` end to end: a full backup of the first loop-device snapshot using
/// GetMetadataAllocated, then an incremental of the second using GetMetadataDelta, which must
/// read exactly the changed blocks and restore byte for byte.
@Suite(.serialized, .enabled(if: LoopDevice.shouldRun, "needs root and losetup for loop devices"))
struct BackupWithCSITests {
    @Test("full and incremental backups driven by the SnapshotMetadata service")
    func csiBackups() async throws {
        let fixture = try SnapshotMetadataTests.Fixture(writes: SnapshotMetadataTests.writes)
        let dir = fixture.dir
        try Data(fixture.certificates.caPEM.utf8).write(to: URL(fileURLWithPath: dir.file("ca.pem")))
        try Data(SnapshotMetadataTests.token.utf8).write(to: URL(fileURLWithPath: dir.file("token")))
        let ferry = FerryProcess(password: "csi-test-password")
        let repo = dir.file("repo")
        #expect(try await ferry.run(["repo", "init", "--repo", repo, "--block-size", "64K"]).succeeded)
        try await withSnapshotMetadataServer(fixture.service, certificates: fixture.certificates) { endpoint in
            func backup(_ device: String, snapshot: String, handle: String, _ extra: [String]) async throws -> [String: Any] {
                let result = try await ferry.run(
                    [
                        "backup", device, "--repo", repo, "--name", "pvc-disk", "--json", "--cbt", "csi",
                        "--csi-endpoint", "localhost:\(endpoint.port)", "--csi-ca", dir.file("ca.pem"), "--csi-token-file",
                        dir.file("token"),
                        "--csi-namespace", "apps", "--csi-snapshot", snapshot, "--csi-snapshot-handle", handle,
                    ] + extra)
                #expect(result.succeeded, "\(result)")
                #expect(!result.stdout.contains(SnapshotMetadataTests.token) && !result.stderr.contains(SnapshotMetadataTests.token))
                return try result.json()
            }
            let full = try await backup(fixture.base.path, snapshot: "vm-disk-snap-1", handle: "snap-handle-1", [])
            #expect(full["cbtProvider"] as? String == "csi")
            #expect((full["bytesRead"] as? NSNumber)?.intValue == 4 << 20, "only the allocated 4 MiB are read")

            let incremental = try await backup(
                fixture.target.path, snapshot: "vm-disk-snap-2", handle: "snap-handle-2", ["--parent", "auto"])
            #expect(incremental["cbtProvider"] as? String == "csi")
            let changed = SnapshotMetadataTests.expectedDelta.reduce(0) { $0 + $1.count }
            #expect((incremental["bytesRead"] as? NSNumber)?.intValue == changed)
            #expect((incremental["bytesSampled"] as? NSNumber)?.intValue == 16 * 65536)

            let restored = dir.file("restored.img")
            #expect(try await ferry.run(["restore", "latest", restored, "--repo", repo]).succeeded)
            #expect(
                Bytes.same(
                    [UInt8](try Data(contentsOf: URL(fileURLWithPath: restored))),
                    [UInt8](try Data(contentsOf: URL(fileURLWithPath: dir.file("target.img"))))))

            // A snapshot recorded under a handle the service no longer knows (deleted since):
            // the next delta is FAILED_PRECONDITION and the backup compares every block.
            let same = try await backup(fixture.target.path, snapshot: "vm-disk-snap-2", handle: "deleted-handle", ["--parent", "auto"])
            #expect(same["cbtProvider"] as? String == "csi" && (same["bytesRead"] as? NSNumber)?.intValue == 0, "\(same)")
            let again = try await backup(fixture.target.path, snapshot: "vm-disk-snap-2", handle: "snap-handle-2", ["--parent", "auto"])
            #expect(again["cbtProvider"] as? String == "hash")
            #expect((again["cbtFallbackReason"] as? String)?.contains("deleted-handle") == true, "\(again)")
        }
    }
}
