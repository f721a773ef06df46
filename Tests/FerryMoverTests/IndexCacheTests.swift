import FerryBlob
import FerryMover
import FerryRepo
import FerryTestSupport
import Foundation
import Synchronization
import Testing

@Suite("Index cache")
struct IndexCacheTests {
    /// Opens the fixture's repository through a store that counts the index objects it reads.
    func open(_ fixture: MoverFixture, cache: IndexCache?) async throws -> (Repository, Int) {
        let counting = CountingStore(inner: fixture.store)
        let repo = try await Repository.open(store: counting, password: fixture.password, cache: cache)
        return (repo, counting.indexReads)
    }

    func twoBackups(_ fixture: MoverFixture, seed: UInt64) async throws -> [String] {
        var images: [String] = []
        for i in 0..<2 {
            let path = fixture.dir.file("disk\(i).img")
            var builder = ImageBuilder(seed: seed + UInt64(i))
            try builder.make(path, size: 1 << 20, layout: [(0, .random, 1 << 20)])
            _ = try await fixture.backup(path)
            images.append(path)
        }
        return images
    }

    @Test func secondOpenReadsNoIndexObjects() async throws {
        let fixture = try await MoverFixture()
        defer { fixture.remove() }
        _ = try await twoBackups(fixture, seed: 80)
        let cache = IndexCache(directory: fixture.dir.file("cache"))
        let (cold, coldReads) = try await open(fixture, cache: cache)
        #expect(coldReads == 2)
        let (warm, warmReads) = try await open(fixture, cache: cache)
        #expect(warmReads == 0)
        #expect(warm.index.count == cold.index.count)
        #expect(warm.indexNames == cold.indexNames)
        cold.index.forEach { id, location, _ in
            #expect(warm.index.location(of: id) == location)
        }

        // A new backup adds one index object: only that one is read.
        let extra = fixture.dir.file("extra.img")
        var builder = ImageBuilder(seed: 90)
        try builder.make(extra, size: 1 << 20, layout: [(0, .random, 1 << 20)])
        let result = try await fixture.backup(extra)
        let (updated, updatedReads) = try await open(fixture, cache: cache)
        #expect(updatedReads == 1)
        #expect(updated.index.count == cold.index.count + result.stats.newBlocks + 1)
    }

    @Test func compactionOrDamageInvalidatesTheCache() async throws {
        let fixture = try await MoverFixture()
        defer { fixture.remove() }
        let images = try await twoBackups(fixture, seed: 81)
        let cacheDirectory = fixture.dir.file("cache")
        let cache = IndexCache(directory: cacheDirectory)
        _ = try await open(fixture, cache: cache)

        // An altered cache file is not trusted: the index is read from the store again.
        let repo = try await fixture.open()
        let file = cacheDirectory + "/" + repo.config.id + "/index"
        var bytes = try ImageFile.read(file)
        bytes[bytes.count / 2] ^= 1
        try Data(bytes).write(to: URL(fileURLWithPath: file))
        let (_, reads) = try await open(fixture, cache: cache)
        #expect(reads == 2)

        // Prune compacts the index objects: the cached names no longer match, so it is rebuilt,
        // and what it then holds matches the store.
        let snapshots = try await repo.snapshots().snapshots
        try await fixture.store.delete([ObjectName.snapshot(snapshots[0].id)])
        _ = try await Pruner(store: fixture.store, credential: .password(fixture.password), cache: cache).run()
        let (afterPrune, pruneReads) = try await open(fixture, cache: cache)
        #expect(pruneReads == afterPrune.indexNames.count)
        let (fresh, _) = try await open(fixture, cache: nil)
        #expect(afterPrune.index.count == fresh.index.count)
        let restored = fixture.dir.file("restored.img")
        _ = try await fixture.restore(snapshots[1].id, to: restored)
        #expect(try ImageFile.identical(images[1], restored))
    }
}

/// A real store that counts the index objects read through it.
final class CountingStore: ObjectStore {
    let inner: any ObjectStore
    private let reads = Mutex(0)

    init(inner: any ObjectStore) {
        self.inner = inner
    }

    var indexReads: Int { reads.withLock { $0 } }
    private let ranged = Mutex(0)
    /// Ranged GETs (chunk reads).
    var rangeReads: Int { ranged.withLock { $0 } }
    var location: String { inner.location }

    func put(_ name: String, _ bytes: [UInt8], mode: PutMode) async throws -> PutOutcome {
        try await inner.put(name, bytes, mode: mode)
    }

    func get(_ name: String) async throws -> [UInt8] {
        if name.hasPrefix("index/") { reads.withLock { $0 += 1 } }
        return try await inner.get(name)
    }

    func get(_ name: String, range: Range<Int64>) async throws -> [UInt8] {
        ranged.withLock { $0 += 1 }
        return try await inner.get(name, range: range)
    }

    func head(_ name: String) async throws -> ObjectInfo? {
        try await inner.head(name)
    }

    func list(prefix: String) async throws -> [ObjectInfo] {
        try await inner.list(prefix: prefix)
    }

    func removeAbandonedWrites(startedBefore cutoff: Date) async throws -> AbandonedWrites {
        try await inner.removeAbandonedWrites(startedBefore: cutoff)
    }

    func delete(_ names: [String]) async throws {
        try await inner.delete(names)
    }
}
