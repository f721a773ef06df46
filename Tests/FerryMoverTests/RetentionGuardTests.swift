import FerryBlob
import FerryMover
import FerryRepo
import FerryTestSupport
import FerryVolume
import Foundation
import Testing

/// Retention never forgets the last copy of a volume: a plan's snapshots where a volume failed
/// lack it, and a policy counting snapshots alone would forget the only one that still holds it.
@Suite struct RetentionGuardTests {
    /// Snapshot `name` of the plan holding the named volumes (each a few blocks of its own data),
    /// `age` hours old.
    func snapshot(_ fixture: MoverFixture, volumes: [String], age: Double, seed: UInt64) async throws -> ChunkID {
        let repository = try await fixture.open()
        let session = try await repository.beginSession()
        var stored: [VolumeManifest] = []
        for (index, volume) in volumes.enumerated() {
            let path = fixture.dir.file("volume-\(seed)-\(index)")
            var random = DeterministicBytes(seed: seed * 10 + UInt64(index))
            try Data(random.bytes(256 << 10)).write(to: URL(fileURLWithPath: path))
            let source = try RawBlockSource(path: path)
            defer { source.close() }
            var request = BackupRequest(snapshotName: "plan:app/db", blockSize: 64 << 10, workers: 2)
            request.volumeName = volume
            stored.append(try await VolumeBackup(source: source, repository: repository, request: request).store(in: session).0)
        }
        let manifest = SnapshotManifest(
            time: Date().addingTimeInterval(-age * 3600), name: "plan:app/db", hostname: "test", parent: nil,
            session: session.id, volumes: stored)
        return try await session.commit(manifest).id
    }

    @Test func forgetKeepsTheLastGoodCopyOfEveryVolume() async throws {
        let fixture = try await MoverFixture()
        defer { fixture.remove() }
        // A good backup of both volumes, then two where app/logs failed.
        let good = try await snapshot(fixture, volumes: ["app/data", "app/logs"], age: 3, seed: 1)
        _ = try await snapshot(fixture, volumes: ["app/data"], age: 2, seed: 2)
        let newest = try await snapshot(fixture, volumes: ["app/data"], age: 1, seed: 3)

        let ferry = FerryProcess(password: "mover-test")
        let forget = try await ferry.run(["forget", "--keep-last", "1", "--repo", fixture.dir.file("repo"), "--json"])
        #expect(forget.succeeded, "\(forget)")
        let remaining = Set(try await fixture.open().snapshots().snapshots.map(\.id))
        #expect(remaining == [good, newest], "the newest snapshot and the last one holding app/logs stay")
        let decision = try #require(try JSONValueLike.array(forget.stdout).first { $0["id"] as? String == good.hex })
        #expect((decision["reasons"] as? [String])?.contains("last copy of volume app/logs") == true, "\(decision)")
    }

    @Test func aNamedForgetOfTheLastCopyIsRefusedUnlessForced() async throws {
        let fixture = try await MoverFixture()
        defer { fixture.remove() }
        let good = try await snapshot(fixture, volumes: ["app/data", "app/logs"], age: 2, seed: 4)
        _ = try await snapshot(fixture, volumes: ["app/data"], age: 1, seed: 5)
        let ferry = FerryProcess(password: "mover-test")
        let refused = try await ferry.run(["forget", good.hex, "--repo", fixture.dir.file("repo")])
        #expect(refused.status == 1 && refused.stderr.contains("last copy of volume app/logs"), "\(refused)")
        #expect(try await fixture.open().snapshots().snapshots.contains { $0.id == good })
        let forced = try await ferry.run(["forget", good.hex, "--force", "--repo", fixture.dir.file("repo")])
        #expect(forced.succeeded, "\(forced)")
        #expect(try await !fixture.open().snapshots().snapshots.contains { $0.id == good })
    }
}

/// JSON output read loosely (Foundation's parser), for assertions.
enum JSONValueLike {
    static func array(_ text: String) throws -> [[String: Any]] {
        (try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [[String: Any]]) ?? []
    }
}
