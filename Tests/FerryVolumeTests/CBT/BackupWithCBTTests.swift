import FerryQEMUTestSupport
import FerryTestSupport
import Foundation
import Testing

/// `ferry backup` end to end on qcow2 images and KubeVirt-style overlays made by the real QEMU
/// tools: what is read, what is recorded, and that restores equal `qemu-img convert -O raw`.
@Suite(.serialized, .enabled(if: QEMUTools.shouldRun, "qemu-img/qemu-io (Debian qemu-utils) are not installed"))
struct BackupWithCBTTests {
    static let blockSize = 65536
    typealias Dir = TemporaryDirectory

    /// A repository with 64 KiB blocks, driven through the ferry binary.
    struct Repo {
        let dir: Dir
        let ferry = FerryProcess(password: "cbt-test-password")
        var path: String { dir.file("repo") }

        init(_ dir: Dir) async throws {
            self.dir = dir
            try await run(["repo", "init", "--repo", dir.file("repo"), "--block-size", "64K"])
        }

        @discardableResult
        func run(_ args: [String]) async throws -> ChildProcess.Result {
            let result = try await ferry.run(args)
            guard result.succeeded else { throw ChildProcess.Failed(command: ["ferry"] + args, result: result) }
            return result
        }

        func backup(_ source: String, _ extra: [String]) async throws -> (json: [String: Any], stderr: String) {
            let result = try await run(["backup", source, "--repo", path, "--name", "disk", "--json"] + extra)
            return (try result.json(), result.stderr)
        }

        /// Restores the latest snapshot and returns its bytes.
        func restoreLatest() async throws -> [UInt8] {
            let target = dir.file("restored-\(UUID().uuidString).raw")
            defer { try? FileManager.default.removeItem(atPath: target) }
            try await run(["restore", "latest", target, "--repo", path])
            return [UInt8](try Data(contentsOf: URL(fileURLWithPath: target)))
        }
    }

    static func int(_ value: Any?) -> Int { (value as? NSNumber)?.intValue ?? -1 }

    /// Distinct 64 KiB blocks touched by `writes`.
    static func blocks(_ writes: [(Int, Int)]) -> Set<Int> {
        Set(writes.flatMap { ($0.0 / blockSize)...(($0.0 + $0.1 - 1) / blockSize) })
    }

    @Test("qcow2 images back up as the guest's disk and restore like qemu-img convert", arguments: ["plain", "zstd", "chain"])
    func guestDisk(kind: String) async throws {
        let dir = try Dir("cbt-cli")
        try QEMUTools.img("create", "-q", "-f", "qcow2", "disk.qcow2", "16M", in: dir.path)
        try QEMUTools.io(
            "disk.qcow2", ["write -P 0x21 0 1M", "write -P 0x22 5M 100k", "write -z 6M 64k", "write -P 0x23 15M 1M"], in: dir.path)
        var image = "disk.qcow2"
        if kind == "zstd" {
            try QEMUTools.img("convert", "-c", "-O", "qcow2", "-o", "compression_type=zstd", "disk.qcow2", "packed.qcow2", in: dir.path)
            image = "packed.qcow2"
        } else if kind == "chain" {
            try QEMUTools.img("create", "-q", "-f", "qcow2", "-b", "disk.qcow2", "-F", "qcow2", "top.qcow2", in: dir.path)
            try QEMUTools.io("top.qcow2", ["write -P 0x31 512k 1M", "write -z 15M 64k"], in: dir.path)
            image = "top.qcow2"
        }
        let repo = try await Repo(dir)
        let (json, _) = try await repo.backup(dir.file(image), [])
        #expect(Self.int(json["size"]) == 16 << 20)
        #expect(Bytes.same(try await repo.restoreLatest(), try QEMUTools.convertToRaw(image, in: dir.path)))
        // --format raw backs up the container file itself.
        _ = try await repo.backup(dir.file(image), ["--format", "raw"])
        #expect(Bytes.same(try await repo.restoreLatest(), [UInt8](try Data(contentsOf: URL(fileURLWithPath: dir.file(image))))))
    }

    @Test("an image a running QEMU writes is refused without --force")
    func heldImage() async throws {
        let dir = try Dir("cbt-cli")
        try QEMUTools.img("create", "-q", "-f", "qcow2", "disk.qcow2", "4M", in: dir.path)
        let repo = try await Repo(dir)
        let holder = try QEMUHolder("disk.qcow2", in: dir.path)
        defer { holder.release() }
        let refused = try await repo.ferry.run(["backup", dir.file("disk.qcow2"), "--repo", repo.path])
        #expect(refused.status == 1 && refused.stderr.contains("running QEMU") && refused.stderr.contains("--force"), "\(refused)")
        #expect(try await repo.ferry.run(["backup", dir.file("disk.qcow2"), "--repo", repo.path, "--force"]).succeeded)
    }

    @Test("KubeVirt-style overlay: the incremental reads exactly the changed blocks; bypassing writes are never missed")
    func overlayIncremental() async throws {
        let dir = try Dir("cbt-cli")
        try QEMUTools.img("create", "-q", "-f", "raw", "disk.img", "64M", in: dir.path)
        try QEMUTools.img("create", "-q", "-f", "qcow2", "-o", "data_file=disk.img,data_file_raw=on", "disk.qcow2", "64M", in: dir.path)
        try QEMUTools.img("bitmap", "--add", "disk.qcow2", "kubevirt", in: dir.path)
        try QEMUTools.io("disk.qcow2", ["write -P 0x41 0 24M", "write -P 0x42 40M 8M"], in: dir.path)
        let repo = try await Repo(dir)
        let cbt = ["--cbt", "qcow2-bitmap:kubevirt"]
        let (full, _) = try await repo.backup(dir.file("disk.qcow2"), cbt)
        #expect(full["cbtProvider"] as? String == "qcow2-bitmap")
        #expect(Self.int(full["bytesRead"]) == 32 << 20, "the full backup reads the allocated 32 MiB")

        // Day two, written through QEMU: the bitmap has it all.
        let writes = [(1 << 20, 4096), (10 << 20 + 5000, 200_000), (41 << 20, 64 << 10), (60 << 20, 3 << 20)]
        try QEMUTools.io("disk.qcow2", writes.map { "write -P 0x55 \($0.0) \($0.1)" }, in: dir.path)
        let (incremental, _) = try await repo.backup(dir.file("disk.qcow2"), cbt + ["--parent", "auto"])
        #expect(incremental["cbtProvider"] as? String == "qcow2-bitmap")
        // The bitmap accumulates since it was added: day one's 32 MiB and day two's blocks.
        let dirty = Self.blocks(writes).union(Self.blocks([(0, 24 << 20), (40 << 20, 8 << 20)]))
        #expect(Self.int(incremental["bytesRead"]) == dirty.count * Self.blockSize)
        #expect(Self.int(incremental["bytesSampled"]) == 16 * Self.blockSize)
        #expect(Bytes.same(try await repo.restoreLatest(), try QEMUTools.convertToRaw("disk.qcow2", in: dir.path)))

        // --verify-cbt compares everything and finds nothing missed.
        let (verified, _) = try await repo.backup(dir.file("disk.qcow2"), cbt + ["--parent", "auto", "--verify-cbt"])
        #expect((verified["cbtMissedBlocks"] as? [Int]) == [])

        // A write to the raw data file behind the overlay's back: the bitmap is refused, the
        // backup compares every block, and the write is in the restore.
        try FileClock.waitUntilAfter(dir.file("disk.qcow2"), probe: dir.file("clock"))
        try Self.poke(dir.file("disk.img"), at: 30 << 20, byte: 0x66)
        let (bypassed, warning) = try await repo.backup(dir.file("disk.qcow2"), cbt + ["--parent", "auto"])
        #expect(bypassed["cbtProvider"] as? String == "hash")
        #expect((bypassed["cbtFallbackReason"] as? String)?.contains("bypassed QEMU") == true, "\(bypassed)")
        #expect(warning.contains("not used"))
        let current = [UInt8](try Data(contentsOf: URL(fileURLWithPath: dir.file("disk.img"))))
        #expect(Bytes.same(try await repo.restoreLatest(), current))

        // A bypassing write hidden by a later QEMU session (the overlay is newer again): the
        // bitmap cannot know. --verify-cbt names the block; a full sample catches it.
        try Self.poke(dir.file("disk.img"), at: 50 << 20, byte: 0x77)
        try FileClock.waitUntilAfter(dir.file("disk.img"), probe: dir.file("clock"))
        try QEMUTools.io("disk.qcow2", ["write -P 0x58 2M 4k"], in: dir.path)
        let (caught, _) = try await repo.backup(dir.file("disk.qcow2"), cbt + ["--parent", "auto", "--verify-cbt"])
        #expect((caught["cbtMissedBlocks"] as? [Int]) == [(50 << 20) / Self.blockSize])
        try Self.poke(dir.file("disk.img"), at: 52 << 20, byte: 0x78)
        try FileClock.waitUntilAfter(dir.file("disk.img"), probe: dir.file("clock"))
        try QEMUTools.io("disk.qcow2", ["write -P 0x59 3M 4k"], in: dir.path)
        let (sampled, loud) = try await repo.backup(dir.file("disk.qcow2"), cbt + ["--parent", "auto", "--cbt-sample-fraction", "1"])
        #expect(sampled["cbtProvider"] as? String == "hash")
        #expect((sampled["cbtFallbackReason"] as? String)?.contains("FAILED the sample check") == true, "\(sampled)")
        #expect(loud.contains("FAILED the sample check"))
        #expect(Bytes.same(try await repo.restoreLatest(), [UInt8](try Data(contentsOf: URL(fileURLWithPath: dir.file("disk.img"))))))
    }

    @Test("disabled and crashed bitmaps fall back with the reason; the manifest keeps the bookmark")
    func fallbacks() async throws {
        let dir = try Dir("cbt-cli")
        try QEMUTools.img("create", "-q", "-f", "qcow2", "disk.qcow2", "16M", in: dir.path)
        try QEMUTools.img("bitmap", "--add", "disk.qcow2", "daily", in: dir.path)
        try QEMUTools.io("disk.qcow2", ["write -P 1 0 4M"], in: dir.path)
        let repo = try await Repo(dir)
        _ = try await repo.backup(dir.file("disk.qcow2"), []) // --cbt auto picks the only enabled bitmap
        try QEMUTools.io("disk.qcow2", ["write -P 2 8M 64k"], in: dir.path)
        let (auto, _) = try await repo.backup(dir.file("disk.qcow2"), ["--parent", "auto"])
        #expect(auto["cbtProvider"] as? String == "qcow2-bitmap")
        #expect(Self.int(auto["bytesRead"]) == (4 << 20) + Self.blockSize)

        let running = try QEMUHolder("disk.qcow2", in: dir.path)
        try running.command("write -P 3 12M 64k", until: "wrote")
        running.crash()
        let (crashed, _) = try await repo.backup(dir.file("disk.qcow2"), ["--parent", "auto", "--cbt", "qcow2-bitmap:daily"])
        #expect(crashed["cbtProvider"] as? String == "hash")
        #expect((crashed["cbtFallbackReason"] as? String)?.contains("not closed cleanly") == true, "\(crashed)")
        #expect(Bytes.same(try await repo.restoreLatest(), try QEMUTools.convertToRaw("disk.qcow2", in: dir.path)))
    }

    static func poke(_ path: String, at offset: UInt64, byte: UInt8) throws {
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
        try handle.seek(toOffset: offset)
        handle.write(Data(repeating: byte, count: 4096))
        try handle.close()
    }
}
