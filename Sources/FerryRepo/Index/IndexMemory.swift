import Synchronization

/// The merged index tables a long-running process (an agent, the coordinator) loaded last, one
/// per repository, kept between opens: an agent opens its Target's repository for every work
/// unit, and each unit's write session would otherwise decode the cache file (every covered
/// name, every record) and write it back whole, a cost that grows with every unit stored.
///
/// A kept table is used exactly as the cache file is: only when every index object it covers is
/// still listed, with the objects written since fetched and merged in (so other writers'
/// objects and prune's tombstones are seen); otherwise the index is read again. It is kept only
/// for the keys it was read with. At most `capacity` repositories are kept, the least recently
/// used dropped first.
final class IndexMemory: Sendable {
    /// A kept table.
    struct Entry: Sendable {
        /// A digest of the keys the table was read with (nil: an unencrypted repository).
        var keys: ChunkID?
        var contents: IndexCache.Contents
        /// How many index objects the cache file covered when this process last read or wrote it.
        var inFile: Int
        var used: UInt64
    }

    private struct State {
        var entries: [String: Entry] = [:]
        var clock: UInt64 = 0
    }

    let capacity: Int
    private let state = Mutex(State())

    init(capacity: Int = 4) {
        self.capacity = capacity
    }

    static func fingerprint(_ keys: MasterKeys?) -> ChunkID? {
        keys.map { Digest.sha256($0.dataKey + $0.idKey) }
    }

    /// The table kept for the repository, if it was read with the same keys.
    func contents(repositoryID: String, keys: MasterKeys?) -> IndexCache.Contents? {
        let fingerprint = Self.fingerprint(keys)
        return state.withLock { state in
            guard var entry = state.entries[repositoryID], entry.keys == fingerprint else { return nil }
            state.clock += 1
            entry.used = state.clock
            state.entries[repositoryID] = entry
            return entry.contents
        }
    }

    /// How many index objects the cache file covered when this process last read or wrote it
    /// (0 when it did neither).
    func inFile(repositoryID: String, keys: MasterKeys?) -> Int {
        let fingerprint = Self.fingerprint(keys)
        return state.withLock { state in
            guard let entry = state.entries[repositoryID], entry.keys == fingerprint else { return 0 }
            return entry.inFile
        }
    }

    /// Keeps `contents` as the repository's table (the latest kept wins); `inFile`, when given,
    /// is how many index objects the cache file now covers.
    func keep(_ contents: IndexCache.Contents, repositoryID: String, keys: MasterKeys?, inFile: Int?) {
        let fingerprint = Self.fingerprint(keys)
        state.withLock { state in
            state.clock += 1
            let previous = state.entries[repositoryID].flatMap { $0.keys == fingerprint ? $0.inFile : nil } ?? 0
            state.entries[repositoryID] = Entry(keys: fingerprint, contents: contents, inFile: inFile ?? previous, used: state.clock)
            while state.entries.count > capacity, let oldest = state.entries.min(by: { $0.value.used < $1.value.used })?.key {
                state.entries[oldest] = nil
            }
        }
    }
}
