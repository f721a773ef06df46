import FerryTestSupport
import Foundation
import Testing

/// Backups of real block devices: loop devices over ext4 images holding real files.
@Suite("Real devices", .serialized)
struct RealDeviceTests {
    /// A 96 MiB ext4 image holding a copy of real files.
    func makeFilesystemImage(_ path: String, in dir: TemporaryDirectory) async throws {
        try ImageFile.create(path, size: 96 << 20)
        try ChildProcess.run(["mkfs.ext4", "-q", "-F", path])
        let mountpoint = dir.file("mnt-src")
        try FileManager.default.createDirectory(atPath: mountpoint, withIntermediateDirectories: true)
        try ChildProcess.run(["mount", "-o", "loop", path, mountpoint])
        defer { _ = try? ChildProcess.run(["umount", mountpoint]) }
        for source in ["/usr/share/common-licenses", "/etc", "/usr/include/linux"] where FileManager.default.fileExists(atPath: source) {
            _ = try? ChildProcess.run(["cp", "-a", source, mountpoint + "/"])
        }
        var random = DeterministicBytes(seed: 51)
        try Data(random.bytes(5 << 20)).write(to: URL(fileURLWithPath: mountpoint + "/random.bin"))
    }

    @Test func loopDeviceBackupRestoresToAnotherLoopDevice() async throws {
        try TestEnvironment.requireRoot("loop devices")
        try TestEnvironment.requireTool("losetup")
        try TestEnvironment.requireTool("mkfs.ext4")
        let cli = try await CLIFixture()
        defer { cli.remove() }
        let sourceImage = cli.dir.file("source.img")
        try await makeFilesystemImage(sourceImage, in: cli.dir)
        let source = try LoopDevice(backing: sourceImage)
        defer { source.detach() }
        let targetImage = cli.dir.file("target.img")
        try ImageFile.create(targetImage, size: 96 << 20)
        var random = DeterministicBytes(seed: 52)
        try ImageFile.write(targetImage, at: 0, random.bytes(8 << 20)) // garbage to be overwritten
        let target = try LoopDevice(backing: targetImage)
        defer { target.detach() }

        let backup = try await cli.backup(source.path)
        #expect(backup.int("size") == 96 << 20)
        #expect(backup.int("bytesRead") == 96 << 20, "a device has no holes: every block is read")
        #expect(backup.int("zeroBlocks") > 0)
        let restore = try await cli.restore(backup.string("snapshot"), to: target.path)
        #expect(restore.succeeded, "\(restore)")
        #expect(try ImageFile.identical(source.path, target.path))
        try ChildProcess.run(["e2fsck", "-n", "-f", target.path])
        #expect(try await cli.check(["--read-data"]).succeeded)
    }

    @Test func mountedDeviceIsRefusedWithoutForce() async throws {
        try TestEnvironment.requireRoot("loop devices")
        try TestEnvironment.requireTool("losetup")
        try TestEnvironment.requireTool("mkfs.ext4")
        let cli = try await CLIFixture()
        defer { cli.remove() }
        let image = cli.dir.file("fs.img")
        try await makeFilesystemImage(image, in: cli.dir)
        let device = try LoopDevice(backing: image)
        defer { device.detach() }
        let mountpoint = cli.dir.file("mnt")
        try FileManager.default.createDirectory(atPath: mountpoint, withIntermediateDirectories: true)
        try ChildProcess.run(["mount", device.path, mountpoint])
        defer { _ = try? ChildProcess.run(["umount", mountpoint]) }

        try await cli.expectFailure(["backup", device.path, "--repo", cli.repo], mentioning: "is in use")
        let forced = try await cli.backup(device.path, ["--force"])
        #expect(forced.int("size") == 96 << 20)
        try await cli.expectFailure(
            ["restore", forced.string("snapshot"), device.path, "--repo", cli.repo],
            mentioning: "is in use (mounted or opened exclusively by another process); a restore writes over the whole volume")
    }

    @Test func sparseImageCostFollowsTheData() async throws {
        let cli = try await CLIFixture()
        defer { cli.remove() }
        let image = cli.dir.file("sparse.img")
        let size: Int64 = 64 << 30
        try ImageFile.create(image, size: size)
        var random = DeterministicBytes(seed: 53)
        let page = random.text(1 << 20)
        // Compressible but distinct megabytes: a text page with a unique first line each.
        let text = (0..<100).flatMap { i in Array("megabyte \(i)\n".utf8) + page.dropFirst(12 + String(i).count) }
        let regions: [(Int64, [UInt8])] = [
            (0, try ImageFile.urandom(100 << 20)),
            (30 << 30, text),
            (size - (100 << 20), try ImageFile.urandom(100 << 20)),
        ]
        for (offset, bytes) in regions { try ImageFile.write(image, at: offset, bytes) }
        let backup = try await cli.backup(image)
        #expect(backup.int("bytesRead") == 300 << 20)
        #expect(backup.int("bytesNotRead") == size - (300 << 20))
        #expect(backup.int("newBlocks") == 300)
        let repositorySize = try ChildProcess.run(["du", "-sb", cli.repo]).split(separator: "\t").first.flatMap { Int64($0) } ?? 0
        #expect(repositorySize < 260 << 20, "random data is stored once and text is compressed: \(repositorySize)")

        let restored = cli.dir.file("restored.img")
        let result = try await cli.restore(backup.string("snapshot"), to: restored)
        #expect(result.succeeded, "\(result)")
        let attributes = try FileManager.default.attributesOfItem(atPath: restored)
        #expect((attributes[.size] as? NSNumber)?.int64Value == size)
        var st = stat()
        #expect(stat(restored, &st) == 0)
        #expect(Int64(st.st_blocks) * 512 <= 320 << 20, "the restored file is sparse")
        let handle = try FileHandle(forReadingFrom: URL(fileURLWithPath: restored))
        defer { try? handle.close() }
        for (offset, bytes) in regions {
            try handle.seek(toOffset: UInt64(offset))
            #expect(try handle.read(upToCount: bytes.count) == Data(bytes))
        }
        try handle.seek(toOffset: UInt64(10 << 30))
        #expect(try handle.read(upToCount: 1 << 20) == Data(count: 1 << 20))
    }
}
