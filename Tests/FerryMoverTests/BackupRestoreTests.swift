import FerryBlob
import FerryMover
import FerryRepo
import FerrySystem
import FerryTestSupport
import FerryVolume
import Foundation
import Testing

@Suite("Backup and restore")
struct BackupRestoreTests {
    static let kib64 = 64 << 10

    @Test(arguments: [true, false])
    func fullBackupRestoresByteIdentical(encrypted: Bool) async throws {
        let fixture = try await MoverFixture(encrypted: encrypted)
        defer { fixture.remove() }
        let image = fixture.dir.file("disk.img")
        let size: Int64 = 5 * 1024 * 1024 + 12345 // not a multiple of the block size
        var builder = ImageBuilder(seed: 11)
        try builder.make(
            image, size: size,
            layout: [
                (0, .random, 100_000), // blocks 0-1
                (300_000, .text, 400_000), // blocks 4-10
                (1 << 20, .zeros, 3 * Self.kib64), // explicit zeros: blocks 16-18 stay zero
                (3 << 20, .random, 10), // a tiny write in block 48
                (size - 5000, .random, 5000), // the short last block
            ])
        let result = try await fixture.backup(image)
        let stats = result.stats
        #expect(stats.size == size)
        #expect(stats.bytesRead + stats.bytesNotRead == size)
        let blocks = Int((size + Int64(Self.kib64) - 1) / Int64(Self.kib64))
        #expect(stats.zeroBlocks + stats.newBlocks + stats.dedupBlocks + stats.unchangedBlocks == blocks)
        #expect(stats.newBlocks == 2 + 7 + 1 + 1) // blocks 0-1, 4-10, 48 and the last
        #expect(stats.zeroBlocks == blocks - 11)
        #expect(stats.dedupBlocks == 0)
        #expect(stats.unchangedBlocks == 0)
        #expect(stats.bytesStored > 0)

        let restored = fixture.dir.file("restored.img")
        let restore = try await fixture.restore(result.snapshot, to: restored)
        #expect(restore.size == size)
        #expect(try ImageFile.identical(image, restored))
        // The restored file is sparse where the source had zeros.
        var st = stat()
        #expect(stat(restored, &st) == 0)
        #expect(Int64(st.st_blocks) * 512 < size / 2)

        let report = try await fixture.check()
        #expect(report.errors == [])
        #expect(report.chunksVerified >= stats.newBlocks)
    }

    @Test func incrementalCountsOnlyWhatChanged() async throws {
        let fixture = try await MoverFixture()
        defer { fixture.remove() }
        let image = fixture.dir.file("disk.img")
        var builder = ImageBuilder(seed: 12)
        try builder.make(image, size: 4 << 20, layout: [(0, .random, 2 << 20)]) // 32 data blocks
        let full = try await fixture.backup(image)
        #expect(full.stats.newBlocks == 32)
        #expect(full.stats.zeroBlocks == 32)

        var random = DeterministicBytes(seed: 99)
        try ImageFile.write(image, at: 5 * Int64(Self.kib64) + 17, random.bytes(100)) // block 5
        try ImageFile.write(image, at: 20 * Int64(Self.kib64), random.bytes(Self.kib64)) // block 20
        try ImageFile.write(image, at: 40 * Int64(Self.kib64), random.bytes(1000)) // block 40, was a hole
        let parent = try await fixture.snapshot(full.snapshot)
        let incremental = try await fixture.backup(image, parent: parent)
        #expect(incremental.stats.newBlocks == 3)
        #expect(incremental.stats.unchangedBlocks == 30) // 32 data blocks, 2 of them changed
        #expect(incremental.stats.zeroBlocks == 31)
        #expect(incremental.manifest.volumes[0].changeTracking?.provider == "hash")
        #expect(incremental.manifest.parent == full.snapshot.hex)

        // Both snapshots restore to their own contents.
        let second = fixture.dir.file("second.img")
        _ = try await fixture.restore(incremental.snapshot, to: second)
        #expect(try ImageFile.identical(image, second))
        let first = fixture.dir.file("first.img")
        _ = try await fixture.restore(full.snapshot, to: first)
        #expect(!(try ImageFile.identical(image, first)))
        #expect(try await fixture.check().errors == [])
    }

    @Test func differentBlockSizeThanParentMeansFullComparison() async throws {
        let fixture = try await MoverFixture()
        defer { fixture.remove() }
        let image = fixture.dir.file("disk.img")
        var builder = ImageBuilder(seed: 13)
        try builder.make(image, size: 2 << 20, layout: [(0, .random, 1 << 20)])
        let full = try await fixture.backup(image, blockSize: 64 << 10)
        let second = try await fixture.backup(image, blockSize: 128 << 10, parent: try await fixture.snapshot(full.snapshot))
        #expect(second.stats.unchangedBlocks == 0)
        #expect(second.stats.newBlocks == 8)
        #expect(second.manifest.volumes[0].changeTracking?.provider == "none")
    }

    @Test func identicalContentElsewhereIsDeduplicated() async throws {
        let fixture = try await MoverFixture()
        defer { fixture.remove() }
        let a = fixture.dir.file("a.img")
        let b = fixture.dir.file("b.img")
        var builder = ImageBuilder(seed: 14)
        try builder.make(a, size: 1 << 20, layout: [(0, .random, 1 << 20)])
        try FileManager.default.copyItem(atPath: a, toPath: b)
        let first = try await fixture.backup(a)
        let second = try await fixture.backup(b)
        #expect(first.stats.newBlocks == 16)
        #expect(second.stats.newBlocks == 0)
        #expect(second.stats.dedupBlocks == 16)
        // Only the manifest and (identical, so deduplicated) block-map page were added.
        #expect(second.stats.bytesStored < 4096)
    }

    @Test func restoreOverwritesAnExistingLargerFile() async throws {
        let fixture = try await MoverFixture()
        defer { fixture.remove() }
        let image = fixture.dir.file("disk.img")
        var builder = ImageBuilder(seed: 15)
        try builder.make(image, size: 1 << 20, layout: [(0, .random, 200_000), (600_000, .text, 100_000)])
        let result = try await fixture.backup(image)
        let target = fixture.dir.file("existing.img")
        var random = DeterministicBytes(seed: 16)
        try ImageFile.create(target, size: 3 << 20)
        try ImageFile.write(target, at: 0, random.bytes(3 << 20))
        _ = try await fixture.restore(result.snapshot, to: target)
        #expect(try ImageFile.identical(image, target))
    }

    @Test func restoreRefusesADeviceThatIsTooSmallOrMissingDirectories() async throws {
        let fixture = try await MoverFixture()
        defer { fixture.remove() }
        let image = fixture.dir.file("disk.img")
        try ImageFile.create(image, size: 1 << 20)
        let result = try await fixture.backup(image)
        await #expect(throws: VolumeError.self) { try await fixture.restore(result.snapshot, to: "/nonexistent-dir/x.img") }
    }

    @Test func aSourceThatShrinksWhileReadIsAnErrorAndCommitsNothing() async throws {
        let fixture = try await MoverFixture()
        defer { fixture.remove() }
        let image = fixture.dir.file("disk.img")
        var builder = ImageBuilder(seed: 17)
        try builder.make(image, size: 4 << 20, layout: [(0, .random, 4 << 20)])
        let raw = try RawBlockSource(path: image)
        defer { raw.close() }
        // The file is cut to 1 MiB when block 10 is first read: later blocks come up short.
        let source = ShrinkingSource(inner: raw, path: image, trigger: 10 * Int64(Self.kib64), newSize: 1 << 20)
        await #expect { try await fixture.backup(source, name: "shrink", workers: 1) } throws: { error in
            guard case VolumeError.sourceShrank(_, let expected, let actual) = error else { return false }
            return expected == 4 << 20 && actual == 1 << 20
        }
        let repo = try await fixture.open()
        #expect(try await repo.snapshots().snapshots.isEmpty)
        #expect(try await fixture.check().errors == [])
    }

    @Test func concurrentBackupsAllCommit() async throws {
        let fixture = try await MoverFixture()
        defer { fixture.remove() }
        var builder = ImageBuilder(seed: 18)
        let shared = fixture.dir.file("shared.img")
        try builder.make(shared, size: 2 << 20, layout: [(0, .random, 2 << 20)])
        _ = try await fixture.backup(shared, name: "base")
        var images: [String] = []
        for i in 0..<4 {
            let path = fixture.dir.file("disk\(i).img")
            try FileManager.default.copyItem(atPath: shared, toPath: path)
            try ImageFile.write(path, at: Int64(i) * 100_000, builder.random.bytes(50_000))
            images.append(path)
        }
        let results = try await withThrowingTaskGroup(of: BackupResult.self) { group in
            for path in images { group.addTask { try await fixture.backup(path, name: path, workers: 2) } }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        #expect(results.count == 4)
        for result in results {
            // Every block but the one or two it changed was committed before it started.
            #expect(result.stats.dedupBlocks >= 30)
            let out = fixture.dir.file("out-\(result.snapshot.short).img")
            _ = try await fixture.restore(result.snapshot, to: out)
            #expect(try ImageFile.identical(result.manifest.volumes[0].source, out))
        }
        #expect(try await fixture.check().errors == [])
    }

    @Test func fullRepositoryDiskFailsCleanly() async throws {
        try TestEnvironment.requireRoot("mounting a small tmpfs")
        let fixture = try await MoverFixture()
        defer { fixture.remove() }
        let mount = fixture.dir.file("small")
        try FileManager.default.createDirectory(atPath: mount, withIntermediateDirectories: true)
        try ChildProcess.run(["mount", "-t", "tmpfs", "-o", "size=8m", "tmpfs", mount])
        defer { _ = try? ChildProcess.run(["umount", "-l", mount]) }
        let small = try await MoverFixture(repoRoot: mount + "/repo", packSize: 1 << 20)
        defer { small.remove() }
        let image = fixture.dir.file("disk.img")
        var builder = ImageBuilder(seed: 19)
        try builder.make(image, size: 16 << 20, layout: [(0, .random, 16 << 20)])
        await #expect { try await small.backup(image) } throws: { error in
            guard case RepositoryError.store(.storageFull) = error else { return false }
            return true
        }
        let repo = try await small.open()
        #expect(try await repo.snapshots().snapshots.isEmpty)
        #expect(try await small.check().errors == [])
    }
}

/// A real file source that cuts its own backing file short the first time a given offset is
/// read, as a source being shrunk by someone else would be.
final class ShrinkingSource: BlockSource, @unchecked Sendable {
    let inner: RawBlockSource
    let path: String
    let trigger: Int64
    let newSize: Int64
    private let fired = NSLock()
    private var done = false

    init(inner: RawBlockSource, path: String, trigger: Int64, newSize: Int64) {
        self.inner = inner
        self.path = path
        self.trigger = trigger
        self.newSize = newSize
    }

    var size: Int64 { inner.size }
    var description: String { inner.description }

    func read(at offset: Int64, into buffer: UnsafeMutableRawBufferPointer) throws {
        if offset == trigger {
            fired.lock()
            if !done { truncate(path, off_t(newSize)); done = true }
            fired.unlock()
        }
        try inner.read(at: offset, into: buffer)
    }

    func dataRanges(in range: Range<Int64>) throws -> [Range<Int64>] {
        try inner.dataRanges(in: range)
    }
}
