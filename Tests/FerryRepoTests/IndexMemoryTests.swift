import FerryBlob
import FerryBlobTestSupport
import FerryTestSupport
import Foundation
import Testing

@testable import FerryRepo

/// An index cache that keeps tables (`IndexCache(directory:keepingTables:)`, what agents and the
/// coordinator use): each session builds on the table the last one merged, yet sees exactly what
/// a session reading every index object would.
@Suite("Index tables kept between opens")
struct IndexMemoryTests {
    static let password = Array("kept tables".utf8)

    /// A repository in a fresh directory, through a store that counts calls.
    func makeStore(_ dir: TemporaryDirectory) async throws -> FaultInjectingStore {
        let store = FaultInjectingStore(try LocalDirectoryStore(root: dir.file("repo"), create: true))
        try await Repository.initialize(store: store, password: Self.password, kdf: Scrypt(n: 1 << 10, r: 8, p: 1))
        return store
    }

    /// One agent work unit: opens without the index, begins a session, stores one data chunk and
    /// one metadata chunk, flushes, ends. Returns the data chunk and the session's repository
    /// (the index it began with).
    func unit(_ store: any ObjectStore, cache: IndexCache?, seed: UInt64) async throws -> (id: ChunkID, repository: Repository) {
        let repository = try await Repository.open(store: store, password: Self.password, loadIndex: false, cache: cache)
        let session = try await repository.beginSession()
        var random = DeterministicBytes(seed: seed)
        let data = random.bytes(4096)
        let id = session.repository.hasher.id(of: data)
        #expect(session.claim(id))
        let builder = session.makeDataPack(maxChunk: data.count)
        data.withUnsafeBytes { _ = builder.append($0, id: id, scratch: ChunkScratch(capacity: data.count)) }
        try await session.store(builder)
        _ = try await session.storeMetadata(BlockMapPage(entries: [id]).encode())
        try await session.flush()
        await session.end()
        return (id, session.repository)
    }

    /// Whether two tables hold the same chunks at the same locations, tombstoned alike.
    func same(_ a: ChunkIndex, _ b: ChunkIndex) -> Bool {
        guard a.count == b.count else { return false }
        var equal = true
        a.forEach { id, location, tombstoned in
            if b.location(of: id) != location || b.isTombstoned(id) != tombstoned { equal = false }
        }
        return equal
    }

    @Test func twoWritersSeeEachOthersIndexObjects() async throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let store = try await makeStore(dir)
        let caches = [
            IndexCache(directory: dir.file("cache-a"), keepingTables: true),
            IndexCache(directory: dir.file("cache-b"), keepingTables: true),
        ]
        var stored: [ChunkID] = []
        for number in 0..<12 {
            let scratch = try await Repository.open(store: store, password: Self.password)
            let reads = store.count(.get, nameContains: "index/")
            let (id, repository) = try await unit(store, cache: caches[number % 2], seed: UInt64(number))
            // Only the index objects written since this writer's last unit are fetched: its own
            // last one and the other writer's.
            #expect(store.count(.get, nameContains: "index/") - reads == min(number, 2))
            // The session began with what a session reading every index object sees.
            #expect(same(repository.index, scratch.index))
            #expect(repository.indexNames == scratch.indexNames)
            for earlier in stored { #expect(repository.index.contains(earlier)) }
            stored.append(id)
        }

        // Opened with either kept table, or with only the file one of them wrote (a restarted
        // agent), the index is the one built from every index object.
        let scratch = try await Repository.open(store: store, password: Self.password)
        for cache in caches + [IndexCache(directory: dir.file("cache-a")), IndexCache(directory: dir.file("cache-b"))] {
            let opened = try await Repository.open(store: store, password: Self.password, cache: cache)
            #expect(same(opened.index, scratch.index))
            #expect(opened.indexNames == scratch.indexNames)
        }
        for id in stored { #expect(scratch.index.contains(id)) }
    }

    /// The file is rewritten only once the index grew by an eighth since it was last written;
    /// the table kept in memory is current all along.
    @Test func theFileIsRewrittenAsTheIndexGrows() async throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let store = try await makeStore(dir)
        let cache = IndexCache(directory: dir.file("cache"), keepingTables: true)
        let id = try await Repository.open(store: store, password: Self.password, loadIndex: false).config.id
        var fileCovers: [Int] = []
        for number in 0..<40 {
            _ = try await unit(store, cache: cache, seed: UInt64(100 + number))
            let keys = try await Repository.open(store: store, password: Self.password, loadIndex: false).keys
            fileCovers.append(IndexCache(directory: dir.file("cache")).load(repositoryID: id, keys: keys)?.names.count ?? -1)
        }
        // Each unit's session saw the objects of the units before it (0, 1, ..., 39); the file
        // was written when that number first differed from the file's by an eighth (at least 1).
        var expected: [Int] = []
        var inFile = 0
        for seen in 0..<40 {
            if seen != inFile && abs(seen - inFile) >= max(1, inFile / 8) { inFile = seen }
            expected.append(seen == 0 ? -1 : inFile)
        }
        #expect(fileCovers == expected)
    }

    /// A prune's tombstones are seen by the next session built on a kept table, and a prune's
    /// compaction (the covered objects gone) makes the table be read again.
    @Test func pruneTombstonesAndCompactionAreSeen() async throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let store = try await makeStore(dir)
        let cache = IndexCache(directory: dir.file("cache"), keepingTables: true)
        let (first, _) = try await unit(store, cache: cache, seed: 200)
        // The kept table now covers the one index object.
        let opened = try await Repository.open(store: store, password: Self.password, cache: cache)
        #expect(opened.indexNames.count == 1)

        // A session alive through the prune keeps its mark pending (no sweep, no compaction):
        // the tombstone index is simply one more index object.
        let alive = try await Repository.open(store: store, password: Self.password, loadIndex: false).beginSession()
        let pending = try await Pruner(store: store, credential: .password(Self.password), abandonedBefore: nil).run()
        #expect(pending.chunksMarked >= 1)
        #expect(pending.marksWaiting == 1)
        let scratch = try await Repository.open(store: store, password: Self.password)
        let (second, during) = try await unit(store, cache: cache, seed: 201)
        #expect(same(during.index, scratch.index))
        #expect(!during.index.contains(first))
        #expect(during.index.isTombstoned(first))
        await alive.end()

        // The next prune sweeps the mark, then compacts the index objects the table covers
        // (and marks and sweeps the second unit's chunks).
        let swept = try await Pruner(store: store, credential: .password(Self.password), abandonedBefore: nil).run()
        #expect(swept.marksSwept >= 1)
        let afterPrune = try await Repository.open(store: store, password: Self.password)
        #expect(!afterPrune.indexNames.isSuperset(of: during.indexNames))
        let (_, after) = try await unit(store, cache: cache, seed: 202)
        #expect(same(after.index, afterPrune.index))
        #expect(after.indexNames == afterPrune.indexNames)
        #expect(!after.index.contains(first))
        #expect(!after.index.contains(second))
    }
}
