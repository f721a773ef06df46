import Testing

@testable import FerryMount

@Suite("Chunk cache and read-ahead")
struct CacheTests {
    @Test func leastRecentlyUsedValuesLeaveFirst() async throws {
        let cache = FlightCache<Int, [UInt8]>(capacity: 300) { $0.count }
        for key in 0..<3 { _ = try await cache.value(for: key) { [UInt8](repeating: 1, count: 100) } }
        #expect(cache.cached(0) != nil) // 0 is now the most recently used
        _ = try await cache.value(for: 3) { [UInt8](repeating: 1, count: 100) }
        #expect(cache.cached(1) == nil) // the least recently used went
        #expect(cache.cached(0) != nil && cache.cached(2) != nil && cache.cached(3) != nil)
        #expect(cache.cachedCost == 300)
        // A value larger than the whole cache still serves its reader, alone.
        _ = try await cache.value(for: 4) { [UInt8](repeating: 1, count: 1000) }
        #expect(cache.count == 1 && cache.cached(4) != nil)
    }

    @Test func concurrentMissesShareOneFetch() async throws {
        let cache = FlightCache<Int, Int>(capacity: 10) { _ in 1 }
        guard case .mine(let flight) = cache.claim(7) else { Issue.record("first claim must fetch"); return }
        guard case .waiting(let same) = cache.claim(7) else { Issue.record("second claim must wait"); return }
        #expect(same === flight)
        async let waiter = same.value()
        cache.complete(flight, with: .success(42))
        #expect(try await waiter == 42)
        guard case .cached(42) = cache.claim(7) else { Issue.record("value must be cached"); return }
    }

    @Test func failuresAreNotRemembered() async throws {
        struct Broken: Error {}
        let cache = FlightCache<Int, Int>(capacity: 10) { _ in 1 }
        await #expect(throws: Broken.self) { try await cache.value(for: 1) { throw Broken() } }
        #expect(try await cache.value(for: 1) { 5 } == 5)
    }

    @Test func sequentialReadsGrowTheWindowAndRandomReadsResetIt() {
        var ahead = ReadAhead(minimum: 4 << 20, maximum: 32 << 20, slack: 8 << 20)
        let size: Int64 = 1 << 30
        #expect(ahead.access(0..<(1 << 20), size: size) == (1 << 20)..<(5 << 20))
        #expect(ahead.access((1 << 20)..<(2 << 20), size: size) == (5 << 20)..<(10 << 20))
        var scheduled: Int64 = 10 << 20
        var offset: Int64 = 2 << 20
        for _ in 0..<20 {
            if let range = ahead.access(offset..<(offset + (1 << 20)), size: size) {
                #expect(range.lowerBound == scheduled)
                #expect(range.upperBound - offset <= (32 << 20) + (1 << 20))
                scheduled = range.upperBound
            }
            offset += 1 << 20
        }
        #expect(ahead.window == 32 << 20)
        #expect(scheduled > offset)
        #expect(ahead.access((500 << 20)..<((500 << 20) + 4096), size: size) == nil)
        #expect(ahead.window == 0)
        // Near the end, the window stops at the size.
        var tail = ReadAhead(minimum: 4 << 20, maximum: 32 << 20, slack: 8 << 20)
        #expect(tail.access(0..<4096, size: 1 << 20) == 4096..<(1 << 20))
    }
}
