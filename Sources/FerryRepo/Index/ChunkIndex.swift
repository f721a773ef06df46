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
        /// The pack number of a record that has only seen a tombstone so far: kept so that a
        /// later, incremental merge of an older location still finds the chunk tombstoned.
        static let noPack: UInt32 = ~tombstoneBit
        var isTombstoned: Bool { pack & Self.tombstoneBit != 0 }
        var packNumber: Int { Int(pack & ~Self.tombstoneBit) }
        var hasLocation: Bool { pack & ~Self.tombstoneBit != Self.noPack }
    }

    private var records: [Record] = []
    /// When each record's location was indexed, and when it was last tombstoned (0: never),
    /// in nanoseconds since 1970: what an incremental merge needs to apply "newest wins".
    private var locatedAt: [UInt64] = []
    private var tombstonedAt: [UInt64] = []
    public private(set) var packs: [IndexObject.Pack] = []
    /// Each pack's position in `packs`, kept with it so that merging a few index objects into a
    /// large table does not first hash every pack the table holds.
    private var packNumbers: [ChunkID: UInt32] = [:]

    public init() {}

    init(packs: [IndexObject.Pack], records: [Record], located: [UInt64], tombstoned: [UInt64]) {
        self.packs = packs
        self.packNumbers = Dictionary(packs.enumerated().map { ($1.id, UInt32($0)) }, uniquingKeysWith: { a, _ in a })
        self.records = records
        self.locatedAt = located
        self.tombstonedAt = tombstoned
    }

    /// The raw table, for serialisation.
    var storage: ([Record], [UInt64], [UInt64]) { (records, locatedAt, tombstonedAt) }

    /// Merges index objects; later `created` times win over earlier ones.
    public init(merging objects: [IndexObject]) {
        merge(objects)
    }

    /// Adds index objects to the table. Merging in several steps gives the same table as
    /// merging everything at once, so a cached table can be brought up to date with only the
    /// index objects written since.
    ///
    /// The table is updated in place: chunks it already holds are rewritten where they are, and
    /// new ones are merged in from the end after growing the table once to its final size, so a
    /// merge holds the table once plus the staged entries (not a second copy of the table).
    public mutating func merge(_ objects: consuming [IndexObject]) {
        guard !objects.isEmpty else { return }
        var staged = stage(objects)
        _ = consume objects
        staged.sort { $0.record.id == $1.record.id ? ($0.created, $0.sequence) < ($1.created, $1.sequence) : $0.record.id < $1.record.id }

        // Chunks the table holds are updated in place; new ones are gathered, in id order.
        var inserts: [(record: Record, located: UInt64, tombstoned: UInt64)] = []
        var i = 0
        while i < staged.count {
            let id = staged[i].record.id
            var last = i
            while last + 1 < staged.count && staged[last + 1].record.id == id { last += 1 }
            let at = lowerBound(id)
            let exists = at < records.count && records[at].id == id
            var location: Record?
            var located: UInt64 = 0
            var tombstoned: UInt64 = 0
            if exists {
                location = records[at]
                located = locatedAt[at]
                tombstoned = tombstonedAt[at]
            }
            if let existing = location, !existing.hasLocation { location = nil }
            for entry in staged[i...last] {
                if entry.tombstone {
                    tombstoned = max(tombstoned, entry.created)
                } else if entry.created >= located || location == nil {
                    location = entry.record
                    located = entry.created
                }
            }
            var record = location ?? Record(id: id, pack: Record.noPack, offset: 0, length: 0, rawLength: 0)
            if location == nil { located = 0 }
            record.pack &= ~Record.tombstoneBit
            if tombstoned > located { record.pack |= Record.tombstoneBit }
            if exists {
                records[at] = record
                locatedAt[at] = located
                tombstonedAt[at] = tombstoned
            } else {
                inserts.append((record, located, tombstoned))
            }
            i = last + 1
        }
        staged = []
        insert(inserts)
    }

    /// The entries of `objects` with their pack numbers in this table (new packs are added),
    /// their objects' creation times and order.
    private mutating func stage(_ objects: [IndexObject]) -> [(record: Record, created: UInt64, sequence: Int, tombstone: Bool)] {
        var staged: [(record: Record, created: UInt64, sequence: Int, tombstone: Bool)] = []
        staged.reserveCapacity(objects.reduce(0) { $0 + $1.entries.count })
        for (sequence, object) in objects.sorted(by: { $0.created < $1.created }).enumerated() {
            let created = UInt64(max(0, object.created.timeIntervalSince1970 * 1e9))
            let mapped = object.packs.map { pack -> UInt32 in
                if let n = packNumbers[pack.id] { return n }
                let n = UInt32(packs.count)
                packNumbers[pack.id] = n
                packs.append(pack)
                return n
            }
            for e in object.entries {
                let pack = e.isTombstone ? 0 : mapped[Int(e.pack)]
                staged.append(
                    (
                        Record(id: e.id, pack: pack, offset: e.offset, length: e.length, rawLength: e.rawLength), created, sequence,
                        e.isTombstone
                    ))
            }
        }
        return staged
    }

    /// The first position whose id is not less than `id`.
    private func lowerBound(_ id: ChunkID) -> Int {
        var low = 0
        var high = records.count
        while low < high {
            let mid = (low + high) / 2
            if records[mid].id < id { low = mid + 1 } else { high = mid }
        }
        return low
    }

    /// Merges records of chunks the table does not hold (sorted by id) into it: the table grows
    /// once to its final size, then is filled from the end.
    private mutating func insert(_ inserts: [(record: Record, located: UInt64, tombstoned: UInt64)]) {
        guard !inserts.isEmpty else { return }
        var old = records.count - 1
        let total = records.count + inserts.count
        records.reserveCapacity(total)
        locatedAt.reserveCapacity(total)
        tombstonedAt.reserveCapacity(total)
        records.append(contentsOf: inserts.lazy.map(\.record))
        locatedAt.append(contentsOf: inserts.lazy.map(\.located))
        tombstonedAt.append(contentsOf: inserts.lazy.map(\.tombstoned))
        var next = inserts.count - 1
        var write = total - 1
        while next >= 0 && old >= 0 {
            if records[old].id > inserts[next].record.id {
                records[write] = records[old]
                locatedAt[write] = locatedAt[old]
                tombstonedAt[write] = tombstonedAt[old]
                old -= 1
            } else {
                records[write] = inserts[next].record
                locatedAt[write] = inserts[next].located
                tombstonedAt[write] = inserts[next].tombstoned
                next -= 1
            }
            write -= 1
        }
        // Every record of the table has moved up: the remaining inserts take positions 0...next.
        while next >= 0 {
            records[write] = inserts[next].record
            locatedAt[write] = inserts[next].located
            tombstonedAt[write] = inserts[next].tombstoned
            next -= 1
            write -= 1
        }
    }

    /// Number of distinct chunks with a location (tombstoned ones included).
    public var count: Int { records.lazy.filter(\.hasLocation).count }

    /// The record of chunk `id`, if it has a location.
    private func position(of id: ChunkID) -> Int? {
        var low = 0
        var high = records.count
        while low < high {
            let mid = (low + high) / 2
            let candidate = records[mid].id
            if candidate == id { return records[mid].hasLocation ? mid : nil }
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
        for r in records where r.hasLocation {
            try body(r.id, location(r), r.isTombstoned)
        }
    }
}
