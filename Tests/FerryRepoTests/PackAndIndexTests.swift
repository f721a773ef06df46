import FerryTestSupport
import Foundation
import Testing

@testable import FerryRepo

@Suite("Packs and indexes")
struct PackAndIndexTests {
    let keys = MasterKeys.random()

    func makePack(_ chunks: [[UInt8]], keys: MasterKeys?) -> (SealedPack, ChunkHasher) {
        let hasher = ChunkHasher(key: keys?.idKey)
        let builder = PackBuilder(kind: .data, keys: keys, hasher: hasher, target: 1 << 20, maxChunk: 1 << 16)
        let scratch = ChunkScratch(capacity: 1 << 16)
        for chunk in chunks {
            chunk.withUnsafeBytes { _ = builder.append($0, id: hasher.id(of: $0), scratch: scratch) }
        }
        return (builder.seal(), hasher)
    }

    @Test(arguments: [true, false])
    func packRoundTrip(encrypted: Bool) throws {
        var random = DeterministicBytes(seed: 3)
        let chunks = [random.bytes(1 << 16), random.text(1 << 16), [UInt8](repeating: 9, count: 1000)]
        let keys = encrypted ? self.keys : nil
        let (pack, hasher) = makePack(chunks, keys: keys)
        #expect(pack.id == PackFormat.id(of: pack.bytes))
        #expect(pack.id != Digest.sha256(pack.bytes)) // the records are not hashed into the name
        #expect(pack.entries.count == 3)
        // The compressible chunks were compressed, the random one stored raw.
        #expect(pack.entries[1].length < pack.entries[1].rawLength)
        #expect(pack.entries[0].length >= pack.entries[0].rawLength)

        let codec = ChunkCodec(cipher: keys?.subkey(salt: pack.salt, purpose: PackFormat.purpose), hasher: hasher)
        for (chunk, entry) in zip(chunks, pack.entries) {
            var out = [UInt8](repeating: 0, count: Int(entry.rawLength))
            try pack.bytes.withUnsafeBytes { raw in
                try out.withUnsafeMutableBytes {
                    try codec.decode(
                        UnsafeRawBufferPointer(rebasing: raw[Int(entry.offset)..<Int(entry.offset + entry.length)]), id: entry.id, into: $0,
                        pack: "p")
                }
            }
            #expect(out == chunk)
        }
        // The (incompressible, so stored raw) plaintext appears in an unencrypted pack only.
        let text = Array(chunks[0].prefix(64))
        let containsPlain = pack.bytes.withUnsafeBytes { raw in
            (0...(raw.count - 64)).contains { i in memcmp(raw.baseAddress! + i, text, 64) == 0 }
        }
        #expect(containsPlain == !encrypted)
    }

    @Test func damagedRecordIsDetectedNotDecoded() throws {
        var random = DeterministicBytes(seed: 4)
        let (pack, hasher) = makePack([random.text(50_000)], keys: keys)
        let entry = pack.entries[0]
        var bytes = pack.bytes
        bytes[Int(entry.offset) + 20] ^= 1
        let codec = ChunkCodec(cipher: keys.subkey(salt: pack.salt, purpose: PackFormat.purpose), hasher: hasher)
        var out = [UInt8](repeating: 0, count: Int(entry.rawLength))
        #expect(throws: RepositoryError.self) {
            try bytes.withUnsafeBytes { raw in
                try out.withUnsafeMutableBytes {
                    try codec.decode(
                        UnsafeRawBufferPointer(rebasing: raw[Int(entry.offset)..<Int(entry.offset + entry.length)]), id: entry.id, into: $0,
                        pack: "p")
                }
            }
        }
    }

    @Test func unencryptedRecordWithWrongContentFailsTheHashCheck() throws {
        let (pack, hasher) = makePack([Array("some data that is not compressible enough".utf8)], keys: nil)
        let entry = pack.entries[0]
        var bytes = pack.bytes
        bytes[Int(entry.offset) + 5] ^= 1
        var out = [UInt8](repeating: 0, count: Int(entry.rawLength))
        #expect(throws: RepositoryError.self) {
            try bytes.withUnsafeBytes { raw in
                try out.withUnsafeMutableBytes {
                    try ChunkCodec(cipher: nil, hasher: hasher).decode(
                        UnsafeRawBufferPointer(rebasing: raw[Int(entry.offset)..<Int(entry.offset + entry.length)]), id: entry.id, into: $0,
                        pack: "p")
                }
            }
        }
    }

    @Test func indexObjectRoundTripAndTruncation() throws {
        var random = DeterministicBytes(seed: 5)
        let packs = (0..<3).map { _ in IndexObject.Pack(id: ChunkID(random.bytes(32)), salt: random.bytes(32), kind: .data, size: 1 << 20) }
        let entries = (0..<100).map { i in
            IndexObject.Entry(
                id: ChunkID(random.bytes(32)), pack: UInt32(i % 3), offset: UInt32(48 + i * 100), length: 90, rawLength: 200,
                isTombstone: false)
        }
        let object = IndexObject(
            created: Date(timeIntervalSince1970: 1_700_000_000), session: Array(repeating: 1, count: 16), packs: packs, entries: entries)
        let decoded = try IndexObject.decode(object.encode(), name: "index/x")
        #expect(decoded.packs == packs)
        #expect(decoded.entries == entries)
        let encoded = object.encode()
        for cut in [0, 10, 30, encoded.count - 1] {
            #expect(throws: RepositoryError.self) { try IndexObject.decode(Array(encoded.prefix(cut)), name: "index/x") }
        }
        // An entry pointing outside its pack is refused.
        var bad = entries
        bad[0].offset = UInt32(1 << 20)
        #expect(throws: RepositoryError.self) {
            try IndexObject.decode(IndexObject(created: Date(), session: [], packs: packs, entries: bad).encode(), name: "index/x")
        }
    }

    @Test func mergedIndexKeepsNewestAndHonoursTombstones() throws {
        var random = DeterministicBytes(seed: 6)
        let a = ChunkID(random.bytes(32)), b = ChunkID(random.bytes(32)), c = ChunkID(random.bytes(32))
        let p1 = IndexObject.Pack(id: ChunkID(random.bytes(32)), salt: random.bytes(32), kind: .data, size: 1000)
        let p2 = IndexObject.Pack(id: ChunkID(random.bytes(32)), salt: random.bytes(32), kind: .data, size: 1000)
        func entry(_ id: ChunkID, _ offset: UInt32, tomb: Bool = false) -> IndexObject.Entry {
            IndexObject.Entry(id: id, pack: 0, offset: offset, length: 10, rawLength: 10, isTombstone: tomb)
        }
        let old = IndexObject(
            created: Date(timeIntervalSince1970: 1), session: [], packs: [p1], entries: [entry(a, 100), entry(b, 200), entry(c, 300)])
        let newer = IndexObject(
            created: Date(timeIntervalSince1970: 2), session: [], packs: [p2], entries: [entry(a, 500), entry(b, 0, tomb: true)])
        let revived = IndexObject(created: Date(timeIntervalSince1970: 3), session: [], packs: [p1], entries: [entry(c, 600)])
        let index = ChunkIndex(merging: [revived, newer, old])
        #expect(index.count == 3)
        #expect(index.location(of: a)?.pack.id == p2.id)
        #expect(index.location(of: a)?.offset == 500)
        // Tombstoned: hidden from writers, still readable at its last location.
        #expect(!index.contains(b))
        #expect(index.isTombstoned(b))
        #expect(index.location(of: b)?.offset == 200)
        #expect(index.contains(a) && index.contains(c))
        #expect(index.location(of: c)?.offset == 600)
        #expect(index.location(of: ChunkID(random.bytes(32))) == nil)
    }

    @Test func incrementalMergeEqualsMergingEverythingAtOnce() {
        var random = DeterministicBytes(seed: 8)
        let ids = (0..<300).map { _ in ChunkID(random.bytes(32)) }
        let pack = IndexObject.Pack(id: ChunkID(random.bytes(32)), salt: random.bytes(32), kind: .data, size: 1 << 20)
        // 12 objects at shuffled times, each with locations or tombstones for random chunks.
        var objects: [IndexObject] = []
        for n in 0..<12 {
            let entries = (0..<80).map { _ in
                IndexObject.Entry(
                    id: ids[Int(random.next() % 300)], pack: 0, offset: UInt32(random.next() % 1000), length: 1, rawLength: 1,
                    isTombstone: random.next() % 4 == 0)
            }
            let unique = Dictionary(entries.map { ($0.id, $0) }, uniquingKeysWith: { a, _ in a }).values
            objects.append(
                IndexObject(
                    created: Date(timeIntervalSince1970: Double((n * 7) % 12) + 1), session: [], packs: [pack], entries: Array(unique)))
        }
        let whole = ChunkIndex(merging: objects)
        var stepwise = ChunkIndex()
        for part in [objects[0..<3], objects[3..<4], objects[4..<9], objects[9...]] {
            stepwise.merge(Array(part))
        }
        #expect(whole.count == stepwise.count)
        for id in ids {
            #expect(whole.location(of: id) == stepwise.location(of: id))
            #expect(whole.isTombstoned(id) == stepwise.isTombstoned(id))
        }
    }

    /// A merge updates the table in place and merges new chunks in from the end: a copy taken
    /// before (a repository's index that a session's reopened copy builds on) is not changed,
    /// and chunks inserted between, before and after the held ones are all found.
    @Test func mergeIntoACopyLeavesTheOriginalAndFindsInsertedChunks() {
        var random = DeterministicBytes(seed: 9)
        let pack = IndexObject.Pack(id: ChunkID(random.bytes(32)), salt: random.bytes(32), kind: .data, size: 1 << 20)
        let ids = (0..<2_000).map { _ in ChunkID(random.bytes(32)) }.sorted()
        func object(_ ids: some Sequence<ChunkID>, at time: Double, offset: UInt32, tombstone: Bool = false) -> IndexObject {
            IndexObject(
                created: Date(timeIntervalSince1970: time), session: [], packs: [pack],
                entries: ids.map { IndexObject.Entry(id: $0, pack: 0, offset: offset, length: 1, rawLength: 1, isTombstone: tombstone) })
        }
        // The original holds every other id; the merge adds the rest (first and last included),
        // moves some held ones and tombstones others.
        let held = ids.enumerated().filter { $0.offset % 2 == 1 }.map(\.element)
        let added = ids.enumerated().filter { $0.offset % 2 == 0 }.map(\.element)
        let original = ChunkIndex(merging: [object(held, at: 1, offset: 1)])
        var merged = original
        merged.merge([
            object(added, at: 2, offset: 2), object(held.prefix(100), at: 3, offset: 3),
            object(held.suffix(50), at: 4, offset: 0, tombstone: true),
        ])
        #expect(original.count == held.count)
        #expect(merged.count == ids.count)
        for id in added {
            #expect(original.location(of: id) == nil)
            #expect(merged.location(of: id)?.offset == 2)
        }
        for (n, id) in held.enumerated() {
            #expect(original.location(of: id)?.offset == 1 && original.contains(id))
            #expect(merged.location(of: id)?.offset == (n < 100 ? 3 : 1))
            #expect(merged.isTombstoned(id) == (n >= held.count - 50))
        }
        let whole = ChunkIndex(merging: [
            object(held, at: 1, offset: 1), object(added, at: 2, offset: 2), object(held.prefix(100), at: 3, offset: 3),
            object(held.suffix(50), at: 4, offset: 0, tombstone: true),
        ])
        var order: [ChunkID] = []
        merged.forEach { id, _, _ in order.append(id) }
        #expect(order == ids, "the merged table is sorted and holds each chunk once")
        for id in ids {
            #expect(whole.location(of: id) == merged.location(of: id) && whole.isTombstoned(id) == merged.isTombstoned(id))
        }
    }

    @Test func largeIndexLookupsFindEveryEntry() {
        var random = DeterministicBytes(seed: 7)
        let pack = IndexObject.Pack(id: ChunkID(random.bytes(32)), salt: random.bytes(32), kind: .data, size: UInt32.max)
        let ids = (0..<20_000).map { _ in ChunkID(random.bytes(32)) }
        let object = IndexObject(
            created: Date(), session: [], packs: [pack],
            entries: ids.enumerated().map {
                IndexObject.Entry(id: $1, pack: 0, offset: UInt32($0), length: 1, rawLength: 1, isTombstone: false)
            })
        let index = ChunkIndex(merging: [object])
        #expect(index.count == ids.count)
        for (i, id) in ids.enumerated() where i % 97 == 0 {
            #expect(index.location(of: id)?.offset == UInt32(i))
        }
    }
}
