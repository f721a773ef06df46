import FerryTestSupport
import Foundation
import Testing

@Suite("Command-line contract")
struct CommandLineContractTests {
    /// Help is printed, not reported as an error, at every level.
    @Test(arguments: [
        ["--help"], ["help"], ["help", "app"], ["app", "--help"], ["app", "backup", "--help"], ["cluster", "--help"], ["backup", "--help"],
    ])
    func helpIsPrinted(_ arguments: [String]) async throws {
        let result = try await FerryProcess(password: nil).run(arguments)
        #expect(result.status == 0, "\(result)")
        #expect(result.stdout.contains("USAGE: ferry"), "\(result)")
        #expect(!result.stderr.contains("CommandError"), "\(result)")
    }

    /// The client rate limit of every command that talks to the Kubernetes API is checked before
    /// anything is sent.
    @Test(arguments: [
        (["coordinator", "--client-qps", "0"], "--client-qps must be more than 0"),
        (["agent", "--node", "n", "--client-burst", "0"], "--client-burst must be at least 1"),
        (["plan", "-A", "--client-qps=-5"], "--client-qps must be more than 0"),
    ])
    func clientRateLimitsAreValidated(_ arguments: [String], message: String) async throws {
        let result = try await FerryProcess(password: nil).run(arguments + ["--kubeconfig", "/nonexistent"])
        #expect(result.status == 64 && result.stderr.contains(message), "\(result)")
    }

    @Test func backupJSONHasTheContractFields() async throws {
        let cli = try await CLIFixture()
        defer { cli.remove() }
        let image = cli.dir.file("disk.img")
        var random = DeterministicBytes(seed: 21)
        try ImageFile.create(image, size: 8 << 20)
        try ImageFile.write(image, at: 1 << 20, random.bytes(3 << 20))
        let json = try await cli.backup(image)
        for key in [
            "snapshot", "size", "bytesRead", "bytesNotRead", "zeroBlocks", "unchangedBlocks", "dedupBlocks", "newBlocks", "bytesStored",
            "seconds", "cbtProvider",
        ] {
            #expect(json[key] != nil, "missing \(key)")
        }
        #expect(json.int("size") == 8 << 20)
        #expect(json.int("bytesRead") + json.int("bytesNotRead") == 8 << 20)
        #expect(json.int("bytesRead") == 3 << 20)
        #expect(json.int("newBlocks") == 3)
        #expect(json.int("zeroBlocks") == 5)
        #expect(json.string("snapshot").count == 64)

        // Without --json: the snapshot id alone on stdout.
        let plain = try await cli.expectSuccess(["backup", image, "--repo", cli.repo])
        #expect(plain.stdout.count == 64)
        #expect(plain.stdout.allSatisfy { $0.isHexDigit })
    }

    @Test func parentAutoMatchesByNameAndRestoreIsIdentical() async throws {
        let cli = try await CLIFixture()
        defer { cli.remove() }
        let image = cli.dir.file("disk.img")
        var random = DeterministicBytes(seed: 22)
        try ImageFile.create(image, size: 4 << 20)
        try ImageFile.write(image, at: 0, random.bytes(4 << 20))
        let first = try await cli.backup(image, ["--name", "vm-disk"])
        // Another snapshot of the same path under another name must not be chosen as parent.
        _ = try await cli.backup(image, ["--name", "other"])
        try ImageFile.write(image, at: 2 << 20, random.bytes(1000))
        let second = try await cli.backup(image, ["--name", "vm-disk", "--parent", "auto"])
        #expect(second.string("parent") == first.string("snapshot"))
        #expect(second.int("unchangedBlocks") == 3)
        #expect(second.int("newBlocks") == 1)
        // --parent auto with no earlier snapshot of that name: a full backup.
        let fresh = try await cli.backup(image, ["--name", "new-name", "--parent", "auto"])
        #expect(fresh["parent"] is NSNull)
        // A block size other than the parent's: a full comparison.
        let other = try await cli.backup(image, ["--name", "vm-disk", "--parent", "auto", "--block-size", "512K"])
        #expect(other.int("unchangedBlocks") == 0)

        let target = cli.dir.file("restored.img")
        try await cli.expectSuccess(["restore", second.string("snapshot"), target, "--repo", cli.repo])
        #expect(try ImageFile.identical(image, target))
        let snapshots = try await cli.expectSuccess(["snapshots", "--repo", cli.repo, "--json"])
        let list = try #require(try JSONSerialization.jsonObject(with: Data(snapshots.stdout.utf8)) as? [[String: Any]])
        #expect(list.count == 5)
        let stats = try await cli.expectSuccess(["stats", "--repo", cli.repo, "--json"]).json()
        #expect(stats.int("snapshots") == 5)
        #expect(try await cli.check(["--read-data"]).succeeded)
        #expect(try await cli.check(["--read-data-subset", "50%"]).succeeded)
    }

    @Test func zstdRepositoriesAreSmallerDedupAcrossCodecsAndRestoreIdentically() async throws {
        let lz4 = try await CLIFixture()
        defer { lz4.remove() }
        let zstd = try await CLIFixture(extra: ["--compression", "zstd"])
        defer { zstd.remove() }
        let image = zstd.dir.file("disk.img")
        var random = DeterministicBytes(seed: 24)
        try ImageFile.create(image, size: 6 << 20)
        try ImageFile.write(image, at: 0, random.text(4 << 20))
        try ImageFile.write(image, at: 4 << 20, random.bytes(1 << 20))
        let small = try await zstd.backup(image, ["--name", "disk"])
        let large = try await lz4.backup(image, ["--name", "disk"])
        #expect(
            small.int("bytesStored") < large.int("bytesStored") * 9 / 10,
            "zstd \(small.int("bytesStored")) vs lz4 \(large.int("bytesStored"))")
        let original = zstd.dir.file("original.img")
        try FileManager.default.copyItem(atPath: image, toPath: original)
        // The repository's default can be overridden per backup; chunk ids do not depend on the
        // codec, so unchanged content dedups whichever codec stored it.
        try ImageFile.write(image, at: 1 << 20, random.text(1 << 20))
        let mixed = try await zstd.backup(image, ["--name", "disk", "--parent", "auto", "--compression", "lz4"])
        #expect(mixed.int("unchangedBlocks") == 4) // block 5 is a hole
        #expect(mixed.int("newBlocks") == 1)
        let again = try await zstd.backup(image, ["--name", "copy", "--compression", "zstd:5"])
        #expect(again.int("dedupBlocks") == 5 && again.int("newBlocks") == 0)
        for (snapshot, source) in [(small, original), (mixed, image)] {
            let target = zstd.dir.file("restored-\(snapshot.string("snapshot").prefix(8)).img")
            try await zstd.expectSuccess(["restore", snapshot.string("snapshot"), target, "--repo", zstd.repo])
            #expect(try ImageFile.identical(source, target))
        }
        #expect(try await zstd.check(["--read-data"]).succeeded)
        let invalid = try await zstd.run(["backup", image, "--repo", zstd.repo, "--compression", "zstd:99"])
        #expect(invalid.status == 64 && invalid.stderr.contains("--compression"), "\(invalid)")
    }

    @Test func passwordSourcesAndRepositoryFromTheEnvironment() async throws {
        let cli = try await CLIFixture(password: nil, initialize: false)
        defer { cli.remove() }
        let passwordFile = cli.dir.file("pw")
        try "from-a-file\n".write(toFile: passwordFile, atomically: true, encoding: .utf8)
        try await cli.expectSuccess(["repo", "init", "--repo", cli.repo, "--password-file", passwordFile])
        try await cli.expectSuccess(["snapshots", "--repo", cli.repo, "--password-command", "echo from-a-file"])
        let env = FerryProcess(password: "from-a-file", extra: ["FERRY_REPOSITORY": cli.repo])
        #expect(try await env.run(["snapshots"]).succeeded)
        let wrong = try await FerryProcess(password: "nope", extra: ["FERRY_REPOSITORY": cli.repo]).run(["snapshots"])
        #expect(wrong.status == 1)
        #expect(wrong.stderr.contains("wrong password"))
        try await cli.expectFailure(["snapshots", "--repo", cli.repo], mentioning: "encrypted")
        try await cli.expectFailure(["snapshots", "--repo", cli.repo, "--password-command", "exit 3"], mentioning: "status 3")
    }

    @Test func initRefusesWithoutPasswordAndAllowsExplicitNoEncryption() async throws {
        let cli = try await CLIFixture(password: nil, initialize: false)
        defer { cli.remove() }
        try await cli.expectFailure(["repo", "init", "--repo", cli.repo], mentioning: "password is required")
        try await cli.expectSuccess(["repo", "init", "--repo", cli.repo, "--insecure-no-encryption"])
        let image = cli.dir.file("disk.img")
        try ImageFile.create(image, size: 1 << 20)
        try ImageFile.write(image, at: 0, Array("plain".utf8))
        _ = try await cli.backup(image)
        try await cli.expectFailure(["repo", "init", "--repo", cli.repo, "--insecure-no-encryption"], mentioning: "already holds")
    }

    @Test func clearErrorsForBadInput() async throws {
        let cli = try await CLIFixture()
        defer { cli.remove() }
        let empty = cli.dir.file("empty")
        try FileManager.default.createDirectory(atPath: empty, withIntermediateDirectories: true)
        try await cli.expectFailure(["snapshots", "--repo", empty], mentioning: "not a Ferry repository")
        try await cli.expectFailure(["snapshots", "--repo", cli.dir.file("missing")], mentioning: "does not exist")
        try await cli.expectFailure(["backup", cli.dir.file("no-such.img"), "--repo", cli.repo], mentioning: "No such file")
        try await cli.expectFailure(["backup", cli.dir.path, "--repo", cli.repo], mentioning: "not a regular file or a block device")
        try await cli.expectFailure(["restore", "deadbeef", cli.dir.file("x.img"), "--repo", cli.repo], mentioning: "no snapshot matches")
        try await cli.expectFailure(["snapshots", "--repo", "ftp://host/x"], mentioning: "unknown repository scheme")
    }

    @Test func unreadableSourceAsUnprivilegedUser() async throws {
        try TestEnvironment.requireRoot("switching to an unprivileged user")
        let setpriv = try TestEnvironment.requireTool("setpriv")
        let cli = try await CLIFixture()
        defer { cli.remove() }
        // The unprivileged user needs to reach the binary, the repository and the source's directory.
        let bin = cli.dir.file("ferry")
        try FileManager.default.copyItem(atPath: FerryProcess.binary, toPath: bin)
        let image = cli.dir.file("secret.img")
        try ImageFile.create(image, size: 1 << 20)
        try ChildProcess.run(["chmod", "-R", "a+rwX", cli.dir.path])
        try ChildProcess.run(["chmod", "0600", image])
        let arguments = ["--reuid=65534", "--regid=65534", "--clear-groups", bin, "backup", image, "--repo", cli.repo]
        let result = try await ChildProcess(executable: setpriv, arguments: arguments, environment: cli.ferry.environment).wait()
        #expect(result.status == 1)
        #expect(result.stderr.contains("cannot open \(image): Permission denied"), "\(result)")
    }
}

/// On a terminal the progress line is cleared before the summary is printed: nothing of it is
/// left on the summary's line (the real `script` gives ferry a pseudo-terminal).
@Suite struct ProgressLineTests {
    @Test func theProgressLineIsClearedBeforeTheSummary() async throws {
        let script = try TestEnvironment.requireTool("script")
        let cli = try await CLIFixture()
        defer { cli.remove() }
        let image = cli.dir.file("disk.img")
        var random = DeterministicBytes(seed: 31)
        try ImageFile.create(image, size: 96 << 20)
        for round in 0..<3 {
            // New data each round, so that every backup runs long enough to draw progress.
            try ImageFile.write(image, at: 0, random.bytes(96 << 20))
            let transcript = cli.dir.file("transcript-\(round)")
            let command = "'\(FerryProcess.binary)' backup '\(image)' --repo '\(cli.repo)' --name round-\(round)"
            let result = try await ChildProcess(
                executable: script, arguments: ["-qfec", command, transcript], environment: cli.ferry.environment
            ).wait()
            #expect(result.succeeded, "\(result)")
            let text = String(decoding: try Data(contentsOf: URL(fileURLWithPath: transcript)), as: UTF8.self)
                .replacingOccurrences(of: "\r\n", with: "\n")
            #expect(text.contains("%"), "a progress line was drawn: \(text.debugDescription)")
            let last = text.components(separatedBy: "\r").last ?? ""
            #expect(!last.contains("%") && last.contains("\n"), "the summary shares its line with progress: \(last.debugDescription)")
        }
    }
}
