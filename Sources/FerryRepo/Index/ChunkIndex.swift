import Foundation

/// Where a chunk is stored: its pack and its record's place in it.
public struct ChunkLocation: Sendable, Hashable {
    public var pack: IndexObject.Pack
    public var offset: UInt32
    public var length: UInt32
    public var rawLength: UInt32

    public var packName: String { ObjectName.pack(pack.id) }
}

/// Every index object of a repository merged into one sorted table of fixed-size records
/// (binary search, no per-entry heap objects). Duplicates written by concurrent writers are
/// legal: the newest entry wins. A chunk whose newest entry is a tombstone (written by prune's
/// mark) is hidden from writers — they store it again rather than depend on it — but its last
/// location stays readable until prune's sweep decides its fate.
public struct ChunkIndex: Sendable {
    struct Record {
        var id: ChunkID
        /// Position in `packs`; the top bit marks a tombstoned chunk.
        var pack: UInt32
        var offset: UInt32
        var length: UInt32
        var rawLength: UInt32

        static let tombstoneBit: UInt32 = 1 << 31
        var isTombstoned: Bool { pack & Self.tombstoneBit != 0 }
        var packNumber: Int { Int(pack & ~Self.tombstoneBit) }
    }

    private var records: [Record] = []
    public private(set) var packs: [IndexObject.Pack] = []

    public init() {}

    /// Merges index objects; later `created` times win over earlier ones.
    public init(merging objects: [IndexObject]) {
        var packNumbers: [ChunkID: UInt32] = [:]
        var staged: [(record: Record, sequence: UInt32, tombstone: Bool)] = []
        staged.reserveCapacity(objects.reduce(0) { $0 + $1.entries.count })
        for (sequence, object) in objects.sorted(by: { $0.created < $1.created }).enumerated() {
            let mapped = object.packs.map { pack -> UInt32 in
                if let n = packNumbers[pack.id] { return n }
                let n = UInt32(packs.count)
                packNumbers[pack.id] = n
                packs.append(pack)
                return n
            }
            for e in object.entries {
                let pack = e.isTombstone ? 0 : mapped[Int(e.pack)]
                staged.append((Record(id: e.id, pack: pack, offset: e.offset, length: e.length, rawLength: e.rawLength), UInt32(sequence), e.isTombstone))
            }
        }
        staged.sort { $0.record.id == $1.record.id ? $0.sequence < $1.sequence : $0.record.id < $1.record.id }
        records.reserveCapacity(staged.count)
        var i = 0
        while i < staged.count {
            var last = i
            while last + 1 < staged.count && staged[last + 1].record.id == staged[i].record.id { last += 1 }
            if !staged[last].tombstone {
                records.append(staged[last].record)
            } else if let located = staged[i...last].last(where: { !$0.tombstone }) {
                var record = located.record
                record.pack |= Record.tombstoneBit
                records.append(record)
            }
            i = last + 1
        }
    }

    /// Number of distinct chunks with a location (tombstoned ones included).
    public var count: Int { records.count }

    private func position(of id: ChunkID) -> Int? {
        var low = 0
        var high = records.count
        while low < high {
            let mid = (low + high) / 2
            let candidate = records[mid].id
            if candidate == id { return mid }
            if candidate < id { low = mid + 1 } else { high = mid }
        }
        return nil
    }

    private func location(_ r: Record) -> ChunkLocation {
        ChunkLocation(pack: packs[r.packNumber], offset: r.offset, length: r.length, rawLength: r.rawLength)
    }

    /// Where to read chunk `id`, tombstoned or not.
    public func location(of id: ChunkID) -> ChunkLocation? {
        position(of: id).map { location(records[$0]) }
    }

    /// Whether a writer may depend on chunk `id` being stored (it is indexed and not tombstoned).
    public func contains(_ id: ChunkID) -> Bool {
        position(of: id).map { !records[$0].isTombstoned } ?? false
    }

    /// Whether chunk `id` is tombstoned: readable, but not to be deduplicated against.
    public func isTombstoned(_ id: ChunkID) -> Bool {
        position(of: id).map { records[$0].isTombstoned } ?? false
    }

    /// Calls `body` with every chunk, its location, and whether it is tombstoned.
    public func forEach(_ body: (ChunkID, ChunkLocation, Bool) throws -> Void) rethrows {
        for r in records {
            try body(r.id, location(r), r.isTombstoned)
        }
    }
}
