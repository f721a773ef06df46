import FerryMount
import FerryRepo
import FerryTestSupport
import Foundation
import Testing

/// The read path without FUSE: a snapshot's volume read through the block map and the chunk
/// cache, from a repository the real `ferry backup` wrote.
@Suite("Reading a mounted volume")
struct VolumeReaderTests {
    /// The one volume file of a single-snapshot file system.
    static func reader(_ fileSystem: SnapshotFileSystem) throws -> VolumeReader {
        let entry = try #require(fileSystem.tree.directoryIfLoaded(fileSystem.tree.root)?.entries.first { $0.name == "disk.raw" })
        guard case .volume(let reader) = entry.node.content else { throw CocoaError(.fileReadUnknown) }
        return reader
    }

    @Test func everyRangeReadsTheBackedUpBytes() async throws {
        let fixture = try await MountFixture()
        defer { fixture.remove() }
        let expected = try TestImage.make(fixture.dir.file("disk.img"))
        let id = try await fixture.backup(fixture.dir.file("disk.img"))
        let repository = try await fixture.open()
        let lines = LogLines()
        let fileSystem = try SnapshotFileSystem(
            repository: repository, snapshot: try await repository.snapshot(matching: id), volume: nil,
            options: .init(cacheBytes: 16 << 20), log: lines.log)
        let reader = try Self.reader(fileSystem)
        #expect(reader.size == TestImage.size)

        // Whole, in 1 MiB reads (sequential, so read-ahead runs), then ranges across block edges.
        var whole: [UInt8] = []
        var offset: Int64 = 0
        while offset < reader.size {
            whole += try await reader.read(at: offset, count: 1 << 20).bytes
            offset += 1 << 20
        }
        #expect(whole == expected)
        var random = DeterministicBytes(seed: 9)
        for _ in 0..<200 {
            let start = Int64(random.next() % UInt64(TestImage.size))
            let count = Int(random.next() % 300_000)
            let got = try await reader.read(at: start, count: count).bytes
            let end = min(Int(TestImage.size), Int(start) + count)
            #expect(got == Array(expected[Int(start)..<end]), "bytes \(start)..<\(end)")
        }
        #expect(try await reader.read(at: TestImage.size, count: 100).count == 0)
        #expect(try await reader.read(at: TestImage.size - 5, count: 100).bytes == Array(expected.suffix(5)))
        // The cache never holds more than its capacity, however much was read.
        #expect(fileSystem.fetcher.cache.cachedCost <= 16 << 20)
        #expect(lines.all.isEmpty, "\(lines.all)")
    }

    @Test func seekDataAndHoleFollowTheBlockMap() async throws {
        let fixture = try await MountFixture()
        defer { fixture.remove() }
        _ = try TestImage.make(fixture.dir.file("disk.img"))
        let id = try await fixture.backup(fixture.dir.file("disk.img"))
        let repository = try await fixture.open()
        let snapshot = try await repository.snapshot(matching: id)
        let fileSystem = try SnapshotFileSystem(repository: repository, snapshot: snapshot, volume: nil, log: LogLines().log)
        let reader = try Self.reader(fileSystem)
        #expect(try await reader.seek(from: 0, data: true) == 0)
        #expect(try await reader.seek(from: 100, data: false) == 2 << 20)
        #expect(try await reader.seek(from: 2 << 20, data: true) == 4 << 20)
        #expect(try await reader.seek(from: (3 << 20) + 7, data: false) == (3 << 20) + 7)
        #expect(try await reader.seek(from: 4 << 20, data: false) == TestImage.size)
        #expect(try await reader.seek(from: TestImage.size, data: true) == nil)
    }

    @Test func aDamagedChunkFailsOnlyTheReadsThatNeedIt() async throws {
        let fixture = try await MountFixture()
        defer { fixture.remove() }
        let expected = try TestImage.make(fixture.dir.file("disk.img"))
        let id = try await fixture.backup(fixture.dir.file("disk.img"))
        // One byte inside the first record of a data pack.
        let pack = try #require(try fixture.packs(kind: 0).first)
        try damage(pack, at: 48 + 100)

        let repository = try await fixture.open()
        let snapshot = try await repository.snapshot(matching: id)
        let packID = try #require(ChunkID(hex: String(pack.split(separator: "/").last!)))
        var victim: ChunkID?
        repository.index.forEach { id, location, _ in
            if location.pack.id == packID && location.offset == 48 { victim = id }
        }
        let damaged = try #require(victim)
        let entries = try await repository.blockMapPage(snapshot.manifest.volumes[0], page: 0).entries
        let expectedFailures = entries.indices.filter { entries[$0] == damaged }.map { Int64($0) << 16 }
        try #require(!expectedFailures.isEmpty)

        let lines = LogLines()
        let fileSystem = try SnapshotFileSystem(repository: repository, snapshot: snapshot, volume: nil, log: lines.log)
        let reader = try Self.reader(fileSystem)
        var failed: [Int64] = []
        var block: Int64 = 0
        while block < TestImage.size {
            do {
                let got = try await reader.read(at: block, count: 64 << 10).bytes
                #expect(got == Array(expected[Int(block)..<min(Int(TestImage.size), Int(block) + (64 << 10))]), "block at \(block)")
            } catch RepositoryError.chunkMismatch {
                failed.append(block)
            }
            block += 64 << 10
        }
        #expect(failed == expectedFailures)
        let packName = "packs/" + pack.split(separator: "/").suffix(2).joined(separator: "/")
        #expect(lines.all.count == 1, "\(lines.all)")
        #expect(lines.all.first?.contains(packName) == true && lines.all.first?.contains(damaged.hex) == true, "\(lines.all)")
    }

    @Test func zeroBlocksAndHolesAreServedWithoutPacks() async throws {
        let fixture = try await MountFixture()
        defer { fixture.remove() }
        let expected = try TestImage.make(fixture.dir.file("disk.img"))
        let id = try await fixture.backup(fixture.dir.file("disk.img"))
        let repository = try await fixture.open()
        let fileSystem = try SnapshotFileSystem(
            repository: repository, snapshot: try await repository.snapshot(matching: id), volume: nil,
            options: .init(readAhead: 0), log: LogLines().log)
        let reader = try Self.reader(fileSystem)
        // The block map is read (a metadata pack), then every data pack goes away.
        #expect(try await reader.read(at: 2 << 20, count: 1).bytes == [0])
        for pack in try fixture.packs(kind: 0) { try FileManager.default.removeItem(atPath: pack) }
        let zeros = try await reader.read(at: 2 << 20, count: 2 << 20).bytes
        #expect(zeros == Array(expected[(2 << 20)..<(4 << 20)]))
        await #expect(throws: RepositoryError.self) { try await reader.read(at: (4 << 20) + (64 << 10), count: 10) }
    }
}

/// Flips one byte of a file.
func damage(_ path: String, at offset: UInt64) throws {
    let handle = try FileHandle(forUpdating: URL(fileURLWithPath: path))
    defer { try? handle.close() }
    try handle.seek(toOffset: offset)
    let byte = try #require(try handle.read(upToCount: 1))
    try handle.seek(toOffset: offset)
    try handle.write(contentsOf: Data([byte[0] ^ 0x5A]))
}
