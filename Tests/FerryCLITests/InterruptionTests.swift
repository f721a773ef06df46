import FerryTestSupport
import Foundation
import Testing

/// `ferry backup` killed with SIGKILL at each phase of the commit protocol, chosen by stopping
/// the process when it reaches that phase (FERRY_TEST_STOP_AT), not by timing.
@Suite("Interrupted backups")
struct InterruptionTests {
    @Test(arguments: ["pack-stored", "index-stored", "before-manifest"])
    func killedAtPhase(_ phase: String) async throws {
        // Small packs so that a periodic index object appears (every 8 packs) well before the end.
        let cli = try await CLIFixture(extra: ["--pack-size", "1M"])
        defer { cli.remove() }
        var random = DeterministicBytes(seed: 41)
        let earlier = cli.dir.file("earlier.img")
        try ImageFile.create(earlier, size: 2 << 20)
        try ImageFile.write(earlier, at: 0, random.bytes(2 << 20))
        let earlierSnapshot = try await cli.backup(earlier).string("snapshot")

        let image = cli.dir.file("disk.img")
        try ImageFile.create(image, size: 24 << 20)
        try ImageFile.write(image, at: 0, random.bytes(24 << 20))
        var ferry = cli.ferry
        ferry.environment["FERRY_TEST_STOP_AT"] = phase
        let running = try ferry.start(["backup", image, "--repo", cli.repo, "--block-size", "64K", "--json"])
        #expect(await running.waitUntilStopped(), "ferry never reached \(phase)")
        running.kill(SIGKILL)
        let killed = await running.wait()
        #expect(killed.signal == SIGKILL)
        #expect(cli.objects("snapshots").count == 1, "no manifest may exist for the killed backup")

        let check = try await cli.check(["--read-data"])
        #expect(check.succeeded, "\(check)")
        let restoredEarlier = cli.dir.file("earlier-restored.img")
        #expect(try await cli.restore(earlierSnapshot, to: restoredEarlier).succeeded)
        #expect(try ImageFile.identical(earlier, restoredEarlier))

        let rerun = try await cli.backup(image, ["--block-size", "64K"])
        let blocks: Int64 = 24 * 16
        switch phase {
        case "index-stored":
            #expect(rerun.int("dedupBlocks") >= 8 * 15, "what the first index object lists is reused")
        case "before-manifest":
            #expect(rerun.int("dedupBlocks") == blocks, "everything was uploaded and indexed")
            #expect(rerun.int("newBlocks") == 0)
        default:
            #expect(rerun.int("newBlocks") + rerun.int("dedupBlocks") == blocks)
        }
        let restored = cli.dir.file("restored.img")
        #expect(try await cli.restore(rerun.string("snapshot"), to: restored).succeeded)
        #expect(try ImageFile.identical(image, restored))
        #expect(try await cli.check(["--read-data"]).succeeded)
    }

    @Test func concurrentProcessesAllCommit() async throws {
        let cli = try await CLIFixture()
        defer { cli.remove() }
        var random = DeterministicBytes(seed: 42)
        let base = cli.dir.file("base.img")
        try ImageFile.create(base, size: 8 << 20)
        try ImageFile.write(base, at: 0, random.bytes(8 << 20))
        _ = try await cli.backup(base)
        var images: [String] = []
        for i in 0..<3 {
            let path = cli.dir.file("disk\(i).img")
            try FileManager.default.copyItem(atPath: base, toPath: path)
            try ImageFile.write(path, at: Int64(i) << 20, random.bytes(4096))
            images.append(path)
        }
        let running = try images.map { try cli.ferry.start(["backup", $0, "--repo", cli.repo, "--json"]) }
        var results: [ChildProcess.Result] = []
        for process in running { results.append(await process.wait()) }
        for (image, result) in zip(images, results) {
            #expect(result.succeeded, "\(result)")
            let json = try result.json()
            #expect(json.int("dedupBlocks") == 7, "deduplicated against the base committed before it started")
            #expect(json.int("newBlocks") == 1)
            let target = cli.dir.file("restored-\((image as NSString).lastPathComponent)")
            #expect(try await cli.restore(json.string("snapshot"), to: target).succeeded)
            #expect(try ImageFile.identical(image, target))
        }
        #expect(try await cli.check(["--read-data"]).succeeded)
    }
}
