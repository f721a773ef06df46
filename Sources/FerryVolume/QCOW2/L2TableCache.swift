import Synchronization

/// A bounded, thread-safe cache of decoded L2 tables keyed by their file offset, evicting the
/// least recently used table when full. Tables are loaded outside the lock, so concurrent
/// readers never wait for each other's I/O; two readers missing the same table may both load it.
final class L2TableCache: Sendable {
    private struct Entry {
        var table: [UInt64]
        var lastUse: UInt64
    }

    private struct State {
        var entries: [Int64: Entry] = [:]
        var clock: UInt64 = 0
    }

    private let capacity: Int
    private let state = Mutex(State())

    /// - Parameter capacity: how many tables to keep (at least 1).
    init(capacity: Int) {
        self.capacity = max(1, capacity)
    }

    /// The table at `offset`, loading it with `load` on a miss.
    func table(at offset: Int64, load: () throws -> [UInt64]) rethrows -> [UInt64] {
        let cached: [UInt64]? = state.withLock { state in
            state.clock &+= 1
            guard var entry = state.entries[offset] else { return nil }
            entry.lastUse = state.clock
            state.entries[offset] = entry
            return entry.table
        }
        if let cached { return cached }
        let table = try load()
        state.withLock { state in
            state.clock &+= 1
            if state.entries[offset] == nil, state.entries.count >= capacity,
                let oldest = state.entries.min(by: { $0.value.lastUse < $1.value.lastUse })?.key
            {
                state.entries.removeValue(forKey: oldest)
            }
            state.entries[offset] = Entry(table: table, lastUse: state.clock)
        }
        return table
    }
}
