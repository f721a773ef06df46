import FerryQEMUTestSupport
import FerryTestSupport
import Foundation
import Testing

/// A restore never writes under a running VM: a disk image a QEMU has open is refused unless
/// forced, the same rule backups follow, with a message that says what a restore needs.
@Suite(.serialized, .enabled(if: QEMUTools.shouldRun, "qemu-img/qemu-io (Debian qemu-utils) are not installed"))
struct RestoreOverLiveDataTests {
    @Test func anImageARunningQEMUHoldsIsNotWrittenUnlessForced() async throws {
        let cli = try await CLIFixture()
        defer { cli.remove() }
        var random = DeterministicBytes(seed: 77)
        let source = cli.dir.file("source.img")
        let backedUp = Data(random.bytes(4 << 20))
        try backedUp.write(to: URL(fileURLWithPath: source))
        let snapshot = try await cli.backup(source).string("snapshot")

        // The VM's disk now holds other data, and a QEMU runs on it.
        let live = Data(random.bytes(4 << 20))
        try live.write(to: URL(fileURLWithPath: cli.dir.file("disk.img")))
        let holder = try QEMUHolder("disk.img", format: "raw", in: cli.dir.path)
        defer { holder.release() }
        try await cli.expectFailure(
            ["restore", snapshot, cli.dir.file("disk.img"), "--repo", cli.repo],
            mentioning: "a running QEMU has it open for writing); a restore writes over the whole volume")
        #expect(try Data(contentsOf: URL(fileURLWithPath: cli.dir.file("disk.img"))) == live, "the running VM's disk was not touched")

        try await cli.expectSuccess(["restore", snapshot, cli.dir.file("disk.img"), "--repo", cli.repo, "--force"])
        #expect(try Data(contentsOf: URL(fileURLWithPath: cli.dir.file("disk.img"))) == backedUp)
    }
}
