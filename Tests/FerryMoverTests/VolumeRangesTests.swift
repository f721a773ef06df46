import FerryMover
import FerryRepo
import FerryTestSupport
import FerryVolume
import Foundation
import Testing

/// A volume backed up in ranges of block-map pages (as work units on several agents would)
/// joins into the block map a single pass writes, and restores the same.
@Suite struct VolumeRangesTests {
    static let blockSize = 64 << 10

    @Test func splitPointsAreWholePagesAndTheLastRangeIsOpen() {
        // 16 pages of 16 × 64 KiB.
        let pageBytes = Int64(16 * Self.blockSize)
        #expect(
            VolumeRanges.split(size: 16 * pageBytes, blockSize: Self.blockSize, pageEntries: 16, count: 3, minimumBytes: 0)
                == [0..<5, 5..<10, 10..<Int.max])
        #expect(
            VolumeRanges.split(size: 16 * pageBytes, blockSize: Self.blockSize, pageEntries: 16, count: 8, minimumBytes: 4 * pageBytes)
                == [0..<4, 4..<8, 8..<12, 12..<Int.max], "no range under the minimum")
        #expect(
            VolumeRanges.split(size: pageBytes / 2, blockSize: Self.blockSize, pageEntries: 16, count: 4, minimumBytes: 0) == [0..<Int.max])
        #expect(
            VolumeRanges.split(size: 16 * pageBytes, blockSize: Self.blockSize, pageEntries: 16, count: 1, minimumBytes: 0) == [0..<Int.max]
        )
    }

    /// Backs up `image` in the given page ranges (each in its own session) and joins them.
    func backupInRanges(_ fixture: MoverFixture, _ image: String, ranges: [Range<Int>], parent: Snapshot?) async throws -> VolumeManifest {
        let repository = try await fixture.open()
        var parts: [VolumeRanges.Part] = []
        for range in ranges.reversed() {
            let source = try RawBlockSource(path: image)
            defer { source.close() }
            var request = BackupRequest(snapshotName: image, blockSize: Self.blockSize, parent: parent)
            request.pages = range
            let session = try await repository.beginSession()
            let (volume, _) = try await VolumeBackup(source: source, repository: repository, request: request).store(in: session)
            await session.end()
            parts.append(VolumeRanges.Part(firstPage: range.lowerBound, volume: volume))
        }
        return try VolumeRanges.join(parts)
    }

    @Test func rangesJoinIntoTheSinglePassBlockMap() async throws {
        let fixture = try await MoverFixture(pageEntries: 16)
        defer { fixture.remove() }
        let image = fixture.dir.file("disk.img")
        var builder = ImageBuilder(seed: 31)
        // 5 MiB + 100 bytes: 81 blocks, 6 pages, the last one short.
        try builder.make(
            image, size: (5 << 20) + 100, layout: [(0, .random, 1 << 20), (2 << 20, .text, 700_000), ((5 << 20) - 4096, .random, 4196)])
        let single = try await fixture.backup(image, blockSize: Self.blockSize)
        let singleVolume = single.manifest.volumes[0]
        let ranges = VolumeRanges.split(size: (5 << 20) + 100, blockSize: Self.blockSize, pageEntries: 16, count: 3, minimumBytes: 0)
        #expect(ranges.count == 3)
        let joined = try await backupInRanges(fixture, image, ranges: ranges, parent: nil)
        #expect(joined.pages == singleVolume.pages, "content-addressed pages: the same entries give the same ids")
        #expect(joined.stats.size == singleVolume.stats.size && joined.stats.bytesRead + joined.stats.bytesNotRead == joined.size)
        #expect(joined.stats.zeroBlocks == singleVolume.stats.zeroBlocks)
        #expect(
            joined.stats.dedupBlocks == singleVolume.stats.newBlocks + singleVolume.stats.dedupBlocks,
            "everything was stored by the single pass")

        // Incremental in ranges against the single pass: only the changed blocks are new.
        var random = DeterministicBytes(seed: 5)
        try ImageFile.write(image, at: 3 * Int64(Self.blockSize) + 9, random.bytes(10)) // page 0
        try ImageFile.write(image, at: 70 * Int64(Self.blockSize), random.bytes(5000)) // page 4
        let parent = try await fixture.snapshot(single.snapshot)
        let incremental = try await backupInRanges(fixture, image, ranges: ranges, parent: parent)
        #expect(incremental.stats.newBlocks == 2)
        let repository = try await fixture.open()
        let session = try await repository.beginSession()
        let manifest = SnapshotManifest(
            time: Date(), name: image, hostname: "test", parent: single.snapshot.hex, session: session.id, volumes: [incremental])
        let (id, _) = try await session.commit(manifest)
        let restored = fixture.dir.file("restored.img")
        _ = try await fixture.restore(id, to: restored)
        #expect(try ImageFile.identical(image, restored))
        #expect(try await fixture.check().errors == [])
    }

    @Test func aMissingOrForeignRangeIsRefused() async throws {
        let fixture = try await MoverFixture(pageEntries: 16)
        defer { fixture.remove() }
        let image = fixture.dir.file("disk.img")
        var builder = ImageBuilder(seed: 32)
        try builder.make(image, size: 3 << 20, layout: [(0, .random, 3 << 20)])
        let repository = try await fixture.open()
        func part(_ pages: Range<Int>, name: String = "v") async throws -> VolumeRanges.Part {
            let source = try RawBlockSource(path: image)
            defer { source.close() }
            var request = BackupRequest(snapshotName: name, blockSize: Self.blockSize)
            request.pages = pages
            request.volumeName = name
            let session = try await repository.beginSession()
            defer { Task { await session.end() } }
            return VolumeRanges.Part(
                firstPage: pages.lowerBound,
                volume: try await VolumeBackup(source: source, repository: repository, request: request).store(in: session).0)
        }
        let a = try await part(0..<1), c = try await part(2..<Int.max), b = try await part(1..<2),
            foreign = try await part(1..<2, name: "w")
        #expect(throws: VolumeRanges.JoinError.self) { try VolumeRanges.join([a, c]) }
        #expect(throws: VolumeRanges.JoinError.self) { try VolumeRanges.join([a, foreign, c]) }
        #expect(try VolumeRanges.join([c, a, b]).pages.count == 3)
    }
}
