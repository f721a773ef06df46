import FerryBlob
import FerryRepo
import FerryTestSupport
import Foundation
import Testing

/// Many small chunks (captured objects) read together: one ranged GET per run of chunks in a
/// pack, each chunk still decrypted and verified on its own.
@Suite struct ReadChunksTests {
    /// 300 small metadata chunks stored in one session; returns their ids and contents.
    func storeObjects(_ fixture: MoverFixture) async throws -> [(ChunkID, [UInt8])] {
        let repository = try await fixture.open()
        let session = try await repository.beginSession()
        var random = DeterministicBytes(seed: 41)
        var stored: [(ChunkID, [UInt8])] = []
        for index in 0..<300 {
            let bytes =
                Array("{\"kind\":\"ConfigMap\",\"name\":\"cm-\(index)\",\"data\":\"".utf8) + random.text(200 + index) + Array("\"}".utf8)
            stored.append((try await session.storeMetadata(bytes), bytes))
        }
        _ = try await session.commit(
            SnapshotManifest(time: Date(), name: "objects", hostname: "test", parent: nil, session: session.id, volumes: []))
        return stored
    }

    @Test func manyChunksComeInFewReadsAndMatchOneByOne() async throws {
        let fixture = try await MoverFixture()
        defer { fixture.remove() }
        let stored = try await storeObjects(fixture)
        let counting = CountingStore(inner: fixture.store)
        let repository = try await Repository.open(store: counting, password: fixture.password)
        let ids = stored.map(\.0) + [stored[7].0]
        let read = try await repository.readChunks(ids, context: "test objects")
        #expect(read.count == 300)
        for (id, bytes) in stored { #expect(read[id] == bytes) }
        let packs = Set(stored.compactMap { repository.index.location(of: $0.0)?.packName })
        #expect(counting.rangeReads <= packs.count, "\(counting.rangeReads) reads for \(packs.count) pack(s)")

        let before = counting.rangeReads
        for (id, bytes) in stored.prefix(20) { #expect(try await repository.readChunk(id, context: "one") == bytes) }
        #expect(counting.rangeReads - before == 20, "one by one it is a read each")

        await #expect(throws: RepositoryError.self) {
            _ = try await repository.readChunks([stored[0].0, ChunkID(Array(repeating: 7, count: 32))], context: "test objects")
        }
    }

    @Test func aDamagedChunkIsNamedAndTheOthersAreNotReturnedAsGood() async throws {
        let fixture = try await MoverFixture()
        defer { fixture.remove() }
        let stored = try await storeObjects(fixture)
        let repository = try await fixture.open()
        let victim = try #require(repository.index.location(of: stored[150].0))
        let path = fixture.dir.file("repo") + "/" + victim.packName
        var pack = try [UInt8](Data(contentsOf: URL(fileURLWithPath: path)))
        pack[Int(victim.offset) + Int(victim.length) / 2] ^= 0x40
        try FileManager.default.removeItem(atPath: path)
        try Data(pack).write(to: URL(fileURLWithPath: path))
        do {
            _ = try await repository.readChunks(stored.map(\.0), context: "test objects")
            Issue.record("a damaged chunk was read as good")
        } catch {
            #expect("\(error)".contains(victim.packName), "\(error)")
        }
    }
}
