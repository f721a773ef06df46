import Foundation

/// The contents of one `index/<id>` object: which chunks a writer session stored in which packs.
///
/// Payload (inside an `ObjectEnvelope` of kind `.index`):
///
///     created u64 (ns since 1970) | session [16] | pack count u32
///     packs:   id [32] | salt [32] | kind u8 | size u32
///     entry count u32
///     entries: chunk id [32] | pack number u32 | offset u32 | length u32 | raw length u32 | flags u8
///
/// Flag bit 0 marks a tombstone (the chunk is to be treated as absent; written by prune).
public struct IndexObject: Sendable {
    /// A pack an index refers to.
    public struct Pack: Sendable, Hashable {
        public var id: ChunkID
        public var salt: [UInt8]
        public var kind: PackFormat.Kind
        public var size: UInt32
    }

    /// One chunk's location.
    public struct Entry: Sendable, Hashable {
        public var id: ChunkID
        /// Position in `packs`.
        public var pack: UInt32
        public var offset: UInt32
        public var length: UInt32
        public var rawLength: UInt32
        public var isTombstone: Bool
    }

    public var created: Date
    public var session: [UInt8]
    public var packs: [Pack]
    public var entries: [Entry]

    public init(created: Date, session: [UInt8], packs: [Pack], entries: [Entry]) {
        self.created = created
        self.session = session
        self.packs = packs
        self.entries = entries
    }

    static let entrySize = 49

    func encode() -> [UInt8] {
        var w = ByteWriter(capacity: 32 + packs.count * 69 + entries.count * Self.entrySize)
        w.u64(UInt64(max(0, created.timeIntervalSince1970 * 1e9)))
        w.raw(session.count == 16 ? session : [UInt8](repeating: 0, count: 16))
        Pack.encode(packs, into: &w)
        w.u32(UInt32(entries.count))
        for e in entries {
            w.id(e.id)
            w.u32(e.pack)
            w.u32(e.offset)
            w.u32(e.length)
            w.u32(e.rawLength)
            w.u8(e.isTombstone ? 1 : 0)
        }
        return w.bytes
    }

    static func decode(_ bytes: [UInt8], name: String) throws -> IndexObject {
        var r = ByteReader(bytes)
        do {
            let created = Date(timeIntervalSince1970: Double(try r.u64()) / 1e9)
            let session = Array(try r.raw(16))
            let packs = try Pack.decode(from: &r, name: name)
            let entryCount = Int(try r.u32())
            guard r.remaining == entryCount * entrySize else {
                throw RepositoryError.corruptObject(name: name, detail: "expected \(entryCount) entries, found \(r.remaining) bytes")
            }
            var entries: [Entry] = []
            entries.reserveCapacity(entryCount)
            for _ in 0..<entryCount {
                let e = Entry(
                    id: try r.id(), pack: try r.u32(), offset: try r.u32(), length: try r.u32(), rawLength: try r.u32(),
                    isTombstone: try r.u8() & 1 == 1)
                guard e.isTombstone || (Int(e.pack) < packs.count && UInt64(e.offset) + UInt64(e.length) <= UInt64(packs[Int(e.pack)].size))
                else {
                    throw RepositoryError.corruptObject(name: name, detail: "entry for chunk \(e.id.short) points outside its pack")
                }
                entries.append(e)
            }
            return IndexObject(created: created, session: session, packs: packs, entries: entries)
        } catch is ByteReader.Truncated {
            throw RepositoryError.corruptObject(name: name, detail: "truncated")
        }
    }
}

extension IndexObject.Pack {
    static let encodedSize = 69

    /// Writes a pack table: count u32, then id [32] | salt [32] | kind u8 | size u32 each.
    static func encode(_ packs: [IndexObject.Pack], into w: inout ByteWriter) {
        w.u32(UInt32(packs.count))
        for p in packs {
            w.id(p.id)
            w.raw(p.salt)
            w.u8(p.kind.rawValue)
            w.u32(p.size)
        }
    }

    static func decode(from r: inout ByteReader, name: String) throws -> [IndexObject.Pack] {
        let count = Int(try r.u32())
        try r.need(count * encodedSize)
        var packs: [IndexObject.Pack] = []
        packs.reserveCapacity(count)
        for _ in 0..<count {
            let id = try r.id()
            let salt = Array(try r.raw(32))
            guard let kind = PackFormat.Kind(rawValue: try r.u8()) else {
                throw RepositoryError.corruptObject(name: name, detail: "unknown pack kind")
            }
            packs.append(IndexObject.Pack(id: id, salt: salt, kind: kind, size: try r.u32()))
        }
        return packs
    }
}
