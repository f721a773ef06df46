/// The layout of `packs/xx/<id>` objects (docs/repository-format.md):
///
///     header   "FERRYPAK" | version u8 | kind u8 | flags u16 | reserved u32 | salt [32]   (48 bytes)
///     chunks   one record per chunk: seal(codec u8 | payload), chunk id as associated data
///     trailer  seal(entries: id [32] | offset u32 | length u32 | raw length u32), header + "trailer" as AAD
///     footer   trailer length u32 | entry count u32 | "FERRYEND"                        (16 bytes)
///
/// Records are sealed with AES-256-GCM under HKDF(dataKey, salt, "ferry/pack/v1"); in an
/// unencrypted repository they are stored in the clear. The pack id is SHA-256 of the header,
/// trailer and footer: they pin down everything else (the random salt makes the id unique, the
/// trailer lists every record's chunk id, offset and length, and each record is verified against
/// its chunk id when read), so the records need not be hashed a second time.
public enum PackFormat {
    static let magic = Array("FERRYPAK".utf8)
    static let footerMagic = Array("FERRYEND".utf8)
    public static let headerSize = 48
    public static let footerSize = 16
    static let entrySize = 44
    static let purpose = "ferry/pack/v1"

    /// What a pack holds.
    public enum Kind: UInt8, Sendable {
        /// Volume blocks.
        case data = 0
        /// Block-map pages and captured resources.
        case metadata = 1
    }

    /// The parsed header of a pack.
    public struct Header: Sendable {
        public var kind: Kind
        public var encrypted: Bool
        public var salt: [UInt8]
    }

    /// The id of a pack with this header and this tail (sealed trailer followed by the footer).
    static func id(header: [UInt8], tail: [UInt8]) -> ChunkID {
        Digest.sha256(header + tail)
    }

    /// The id of a whole pack, or nil when it is too short or its footer is malformed.
    public static func id(of bytes: [UInt8]) -> ChunkID? {
        guard bytes.count >= headerSize + footerSize,
            let (length, _) = try? parseFooter(bytes[(bytes.count - footerSize)...], name: ""),
            length <= bytes.count - headerSize - footerSize
        else { return nil }
        return id(header: Array(bytes[0..<headerSize]), tail: Array(bytes.suffix(length + footerSize)))
    }

    static func header(kind: Kind, encrypted: Bool, salt: [UInt8]) -> [UInt8] {
        var w = ByteWriter(capacity: headerSize)
        w.raw(magic)
        w.u8(1)
        w.u8(kind.rawValue)
        w.u16(encrypted ? 1 : 0)
        w.u32(0)
        w.raw(salt)
        return w.bytes
    }

    public static func parseHeader(_ bytes: ArraySlice<UInt8>, name: String) throws -> Header {
        guard bytes.count >= headerSize, Array(bytes.prefix(8)) == magic else {
            throw RepositoryError.corruptObject(name: name, detail: "not a pack (bad magic or truncated)")
        }
        let base = bytes.startIndex
        guard bytes[base + 8] == 1 else {
            throw RepositoryError.corruptObject(name: name, detail: "unknown pack version \(bytes[base + 8])")
        }
        guard let kind = Kind(rawValue: bytes[base + 9]) else {
            throw RepositoryError.corruptObject(name: name, detail: "unknown pack kind \(bytes[base + 9])")
        }
        return Header(kind: kind, encrypted: bytes[base + 10] & 1 == 1, salt: Array(bytes[base + 16..<base + 48]))
    }

    static func trailerAAD(header: [UInt8]) -> [UInt8] {
        header + Array("trailer".utf8)
    }

    /// Parses the footer (the last 16 bytes of a pack): the trailer's length and entry count.
    static func parseFooter(_ bytes: ArraySlice<UInt8>, name: String) throws -> (trailerLength: Int, count: Int) {
        guard bytes.count == footerSize, Array(bytes.suffix(8)) == footerMagic else {
            throw RepositoryError.corruptObject(name: name, detail: "pack footer missing (truncated pack?)")
        }
        var r = ByteReader(Array(bytes))
        let length = try Int(r.u32())
        let count = try Int(r.u32())
        return (length, count)
    }

    /// Decodes the trailer's entries.
    static func parseTrailer(_ plain: [UInt8], count: Int, packSize: Int, name: String) throws -> [PackEntry] {
        guard plain.count == count * entrySize else {
            throw RepositoryError.corruptObject(name: name, detail: "trailer holds \(plain.count) bytes for \(count) entries")
        }
        var r = ByteReader(plain)
        var entries: [PackEntry] = []
        entries.reserveCapacity(count)
        do {
            for _ in 0..<count {
                let entry = try PackEntry(id: r.id(), offset: r.u32(), length: r.u32(), rawLength: r.u32())
                guard Int(entry.offset) >= headerSize, Int(entry.offset) + Int(entry.length) <= packSize else {
                    throw RepositoryError.corruptObject(
                        name: name, detail: "trailer entry for chunk \(entry.id.short) lies outside the pack")
                }
                entries.append(entry)
            }
        } catch is ByteReader.Truncated {
            throw RepositoryError.corruptObject(name: name, detail: "trailer truncated")
        }
        return entries
    }
}

/// Where a chunk sits in its pack.
public struct PackEntry: Sendable, Hashable {
    public var id: ChunkID
    /// Offset of the sealed record from the start of the pack.
    public var offset: UInt32
    /// Length of the sealed record.
    public var length: UInt32
    /// Length of the chunk's plaintext.
    public var rawLength: UInt32

    public init(id: ChunkID, offset: UInt32, length: UInt32, rawLength: UInt32) {
        self.id = id
        self.offset = offset
        self.length = length
        self.rawLength = rawLength
    }
}
