import FerryTestSupport
import Testing

@testable import FerryRepo

/// Prune's sorted set of referenced chunks.
@Suite struct ChunkSetTests {
    @Test func holdsEachIdOnceAndFindsExactlyThose() {
        var random = DeterministicBytes(seed: 61)
        let ids = (0..<5000).map { _ in ChunkID(random.bytes(32)) }
        var builder = ChunkSet.Builder()
        builder.insert(contentsOf: ids)
        builder.insert(contentsOf: ids.prefix(1000)) // duplicates
        builder.insert(.zero)
        let set = builder.build()
        #expect(set.count == 5001)
        #expect(ids.allSatisfy { set.contains($0) } && set.contains(.zero))
        let others = (0..<5000).map { _ in ChunkID(random.bytes(32)) }
        #expect(!others.contains { set.contains($0) })
        #expect(!ChunkSet.Builder().build().contains(ids[0]))
    }
}
