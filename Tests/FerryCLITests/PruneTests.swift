import FerryTestSupport
import Foundation
import Testing

/// Prune racing real backup processes, with the interleavings forced at the dangerous points by
/// stopping a process at a named phase (FERRY_TEST_STOP_AT), and prune killed at each phase.
@Suite("Prune")
struct PruneTests {
    func image(_ cli: CLIFixture, _ name: String, megabytes: Int, seed: UInt64) throws -> String {
        let path = cli.dir.file(name)
        var random = DeterministicBytes(seed: seed)
        try ImageFile.create(path, size: Int64(megabytes) << 20)
        try ImageFile.write(path, at: 0, random.bytes(megabytes << 20))
        return path
    }

    func prune(_ cli: CLIFixture, _ extra: [String] = []) async throws -> [String: Any] {
        try await cli.expectSuccess(["prune", "--repo", cli.repo, "--json"] + extra).json()
    }

    func expectRestores(_ cli: CLIFixture, _ snapshot: String, equals image: String, sourceLocation: SourceLocation = #_sourceLocation)
        async throws
    {
        let target = cli.dir.file("restored-\(snapshot.prefix(8)).img")
        let result = try await cli.restore(snapshot, to: target)
        #expect(result.succeeded, "\(result)", sourceLocation: sourceLocation)
        #expect(try ImageFile.identical(image, target), sourceLocation: sourceLocation)
        try? FileManager.default.removeItem(atPath: target)
    }

    func expectClean(_ cli: CLIFixture, sourceLocation: SourceLocation = #_sourceLocation) async throws {
        let check = try await cli.check(["--read-data"])
        #expect(check.succeeded, "\(check)", sourceLocation: sourceLocation)
    }

    @Test func forgetThenPruneReclaimsAndKeepsWhatIsReferenced() async throws {
        let cli = try await CLIFixture(extra: ["--pack-size", "2M"])
        defer { cli.remove() }
        let a = try image(cli, "a.img", megabytes: 6, seed: 61)
        let first = try await cli.backup(a, ["--name", "disk", "--block-size", "64K"]).string("snapshot")
        // Change half of it: the first backup's packs become partly unreferenced once it is forgotten.
        var random = DeterministicBytes(seed: 62)
        try ImageFile.write(a, at: 0, random.bytes(3 << 20))
        let second = try await cli.backup(a, ["--name", "disk", "--block-size", "64K"]).string("snapshot")
        try await cli.expectSuccess(["forget", "--repo", cli.repo, "--keep-last", "1"])
        let before = cli.objects("packs")
        let report = try await prune(cli)
        #expect(report.int("chunksMarked") == 48 + 1) // the replaced blocks and the first snapshot's block-map page
        #expect(report.int("packsDeleted") + report.int("packsRewritten") > 0)
        #expect(report.int("bytesReclaimed") >= 2 << 20)
        #expect(report.int("indexObjectsAfter") == 1)
        #expect(cli.objects("packs") != before)
        try await expectRestores(cli, second, equals: a)
        try await expectClean(cli)
        let restoreFirst = try await cli.restore(first, to: cli.dir.file("gone.img"))
        #expect(restoreFirst.status == 1)
        // Nothing left to do but mark again what the first run left in packs it kept (how
        // many depends on which worker's pack each block landed in).
        let packsAfter = cli.objects("packs")
        let again = try await prune(cli)
        #expect(again.int("chunksMarked") == report.int("unusedChunksKept"))
        #expect(again.int("bytesReclaimed") == 0)
        #expect(cli.objects("packs") == packsAfter)
        #expect(again.int("packsDeleted") == 0)
        #expect(again.int("packsRewritten") == 0)
    }

    @Test func markBetweenDedupAndManifestThenDeleteWhileTheSessionLives() async throws {
        let cli = try await CLIFixture()
        defer { cli.remove() }
        let old = try image(cli, "old.img", megabytes: 4, seed: 63)
        let oldSnapshot = try await cli.backup(old, ["--name", "old"]).string("snapshot")
        try await cli.expectSuccess(["forget", "--repo", cli.repo, oldSnapshot])
        #expect(cli.objects("snapshots").isEmpty)

        // A backup of the same content dedups against the unreferenced chunks, then stops
        // just before its manifest.
        var ferry = cli.ferry
        ferry.environment["FERRY_TEST_STOP_AT"] = "before-manifest"
        let backup = try ferry.start(["backup", old, "--repo", cli.repo, "--name", "new", "--json"])
        #expect(await backup.waitUntilStopped())
        let packs = cli.objects("packs")

        // Prune marks them (the backup's session is alive, so nothing is deleted).
        let first = try await prune(cli)
        #expect(first.int("chunksMarked") >= 4)
        #expect(first.int("marksWaiting") == 1)
        #expect(first.int("packsDeleted") == 0)
        #expect(cli.objects("packs") == packs)
        // A second prune while the session still lives deletes nothing either.
        let second = try await prune(cli)
        #expect(second.int("packsDeleted") == 0)
        #expect(cli.objects("packs") == packs)

        backup.kill(SIGCONT)
        let result = await backup.wait()
        #expect(result.succeeded, "\(result)")
        let json = try result.json()
        #expect(json.int("dedupBlocks") == 4)
        // The sweep now sees the new snapshot and keeps what it references.
        let third = try await prune(cli)
        #expect(third.int("marksSwept") >= 1)
        #expect(third.int("chunksRevived") >= 4)
        try await expectRestores(cli, json.string("snapshot"), equals: old)
        try await expectClean(cli)
    }

    @Test func aBackupAfterTheMarkStoresTombstonedChunksAgain() async throws {
        let cli = try await CLIFixture()
        defer { cli.remove() }
        let x = try image(cli, "x.img", megabytes: 4, seed: 64)
        let other = try image(cli, "other.img", megabytes: 2, seed: 65)
        let first = try await cli.backup(x, ["--name", "x"]).string("snapshot")
        try await cli.expectSuccess(["forget", "--repo", cli.repo, first])
        // A running backup keeps prune's mark pending.
        var ferry = cli.ferry
        ferry.environment["FERRY_TEST_STOP_AT"] = "before-manifest"
        let holder = try ferry.start(["backup", other, "--repo", cli.repo, "--name", "other", "--json"])
        #expect(await holder.waitUntilStopped())
        let mark = try await prune(cli)
        #expect(mark.int("marksWaiting") == 1)

        // Started after the mark: it must not depend on the tombstoned chunks.
        let again = try await cli.backup(x, ["--name", "x"])
        #expect(again.int("dedupBlocks") == 0)
        #expect(again.int("newBlocks") == 4)

        holder.kill(SIGCONT)
        #expect(await holder.wait().succeeded)
        let sweep = try await prune(cli)
        #expect(sweep.int("marksSwept") == 1)
        #expect(sweep.int("packsDeleted") >= 1)
        try await expectRestores(cli, again.string("snapshot"), equals: x)
        try await expectClean(cli)
    }

    @Test func aBackupWhoseMarkerExpiredDoesNotCommit() async throws {
        let cli = try await CLIFixture()
        defer { cli.remove() }
        let x = try image(cli, "x.img", megabytes: 2, seed: 66)
        var ferry = cli.ferry
        ferry.environment["FERRY_TEST_STOP_AT"] = "before-manifest"
        let backup = try ferry.start(["backup", x, "--repo", cli.repo, "--session-lease", "2", "--json"])
        #expect(await backup.waitUntilStopped())
        // Stopped, it cannot refresh its marker; wait until the marker says it has expired.
        let marker = try #require(cli.objects("sessions").first)
        let deadline = Date().addingTimeInterval(60)
        var expired = false
        while Date() < deadline && !expired {
            let data = try Data(contentsOf: URL(fileURLWithPath: cli.dir.file("repo/" + marker)))
            let object = try JSONSerialization.jsonObject(with: data) as? [String: Any]
            let expires = ISO8601DateFormatter.fractional.date(from: object?["expires"] as? String ?? "") ?? .distantFuture
            expired = expires.timeIntervalSinceNow < -1
            if !expired { usleep(100_000) }
        }
        #expect(expired)
        // Prune removes the dead session's marker.
        _ = try await prune(cli)
        #expect(cli.objects("sessions").isEmpty)
        backup.kill(SIGCONT)
        let result = await backup.wait()
        #expect(result.status == 1)
        #expect(result.stderr.contains("expired"), "\(result.stderr)")
        #expect(cli.objects("snapshots").isEmpty)
        try await expectClean(cli)
    }

    @Test func onePruneAtATime() async throws {
        let cli = try await CLIFixture()
        defer { cli.remove() }
        let x = try image(cli, "x.img", megabytes: 2, seed: 67)
        let snapshot = try await cli.backup(x, ["--name", "x"]).string("snapshot")
        try await cli.expectSuccess(["forget", "--repo", cli.repo, snapshot])
        var ferry = cli.ferry
        ferry.environment["FERRY_TEST_STOP_AT"] = "prune-marked"
        let first = try ferry.start(["prune", "--repo", cli.repo])
        #expect(await first.waitUntilStopped())
        try await cli.expectFailure(["prune", "--repo", cli.repo], mentioning: "locked")
        first.kill(SIGCONT)
        #expect(await first.wait().succeeded)
        try await expectClean(cli)
    }

    @Test func pruneRemovesTemporaryFilesOfKilledWritersOnceOld() async throws {
        let cli = try await CLIFixture()
        defer { cli.remove() }
        let x = try image(cli, "x.img", megabytes: 2, seed: 71)
        let snapshot = try await cli.backup(x, ["--name", "x"]).string("snapshot")
        // What a writer killed between writing an object and linking it into place leaves:
        // `.<name>.tmp.<random>` beside the object (LocalDirectoryStore.write).
        let pack = try #require(cli.objects("packs").first)
        let directory = cli.repo + "/" + pack[..<pack.lastIndex(of: "/")!]
        let old = directory + "/.0123abcd.tmp.1f2e3d"
        let young = directory + "/.4567cdef.tmp.4c5b6a"
        try Data(count: 300_000).write(to: URL(fileURLWithPath: old))
        try Data(count: 1000).write(to: URL(fileURLWithPath: young))
        try FileManager.default.setAttributes([.modificationDate: Date(timeIntervalSinceNow: -2 * 86_400)], ofItemAtPath: old)

        let report = try await prune(cli)
        let removed = try #require(report["abandonedWrites"] as? [String: Any])
        #expect((removed["count"] as? NSNumber)?.intValue == 1)
        #expect((removed["bytes"] as? NSNumber)?.intValue == 300_000)
        #expect(!FileManager.default.fileExists(atPath: old))
        #expect(FileManager.default.fileExists(atPath: young))
        let now = try await prune(cli, ["--abandoned-after", "0h"])
        #expect(((now["abandonedWrites"] as? [String: Any])?["count"] as? NSNumber)?.intValue == 1)
        #expect(!FileManager.default.fileExists(atPath: young))
        let invalid = try await cli.run(["prune", "--repo", cli.repo, "--abandoned-after", "soon"])
        #expect(invalid.status == 64 && invalid.stderr.contains("--abandoned-after takes a span"), "\(invalid)")
        try await expectRestores(cli, snapshot, equals: x)
        try await expectClean(cli)
    }

    @Test(arguments: ["prune-marked", "prune-revived", "prune-repacked", "prune-deleted", "prune-compacted"])
    func pruneKilledAtPhase(_ phase: String) async throws {
        let cli = try await CLIFixture(extra: ["--pack-size", "2M"])
        defer { cli.remove() }
        let a = try image(cli, "a.img", megabytes: 6, seed: 68)
        _ = try await cli.backup(a, ["--name", "disk", "--block-size", "64K"])
        var random = DeterministicBytes(seed: 69)
        try ImageFile.write(a, at: 0, random.bytes(3 << 20))
        let kept = try await cli.backup(a, ["--name", "disk", "--block-size", "64K"]).string("snapshot")
        let other = try image(cli, "other.img", megabytes: 1, seed: 70)
        try await cli.expectSuccess(["forget", "--repo", cli.repo, "--keep-last", "1"])

        if phase == "prune-revived" {
            // A revival needs a snapshot committed between mark and sweep: a backup of the
            // forgotten content, stopped before its manifest while prune marks.
            var holder = cli.ferry
            holder.environment["FERRY_TEST_STOP_AT"] = "before-manifest"
            let original = cli.dir.file("original.img")
            var regenerate = DeterministicBytes(seed: 68)
            try ImageFile.create(original, size: 6 << 20)
            try ImageFile.write(original, at: 0, regenerate.bytes(6 << 20))
            let backup = try holder.start(["backup", original, "--repo", cli.repo, "--name", "again", "--block-size", "64K", "--json"])
            #expect(await backup.waitUntilStopped())
            _ = try await prune(cli)
            backup.kill(SIGCONT)
            #expect(await backup.wait().succeeded)
        }
        _ = try await cli.backup(other, ["--name", "other"])

        var ferry = cli.ferry
        ferry.environment["FERRY_TEST_STOP_AT"] = phase
        let pruning = try ferry.start(["prune", "--repo", cli.repo])
        #expect(await pruning.waitUntilStopped(), "prune never reached \(phase)")
        pruning.kill(SIGKILL)
        #expect(await pruning.wait().signal == SIGKILL)

        try await expectClean(cli)
        try await expectRestores(cli, kept, equals: a)
        // A second prune takes over the dead one's lock and completes the work.
        let second = try await prune(cli)
        #expect(second.int("marksWaiting") == 0)
        try await expectClean(cli)
        try await expectRestores(cli, kept, equals: a)
        let third = try await prune(cli)
        #expect(third.int("packsDeleted") == 0 && third.int("packsRewritten") == 0, "the second prune finished the work")
    }
}

extension ISO8601DateFormatter {
    static var fractional: ISO8601DateFormatter {
        let f = ISO8601DateFormatter()
        f.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return f
    }
}
