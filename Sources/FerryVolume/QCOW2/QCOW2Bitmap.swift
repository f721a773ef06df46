/// A persistent bitmap stored in a qcow2 image (an entry of the bitmap directory that the
/// 0x23852875 header extension points at). Dirty tracking bitmaps mark every granule of the disk
/// written while the bitmap was enabled.
public struct QCOW2Bitmap: Sendable, Equatable {
    public var name: String
    /// 1: dirty tracking bitmap (the only type defined).
    public var type: UInt8
    public var granularityBits: Int
    /// Set while QEMU has the bitmap loaded and not yet stored back: the data may be stale.
    public var inUse: Bool
    /// The `auto` flag: the bitmap is enabled and must record every write.
    public var enabled: Bool
    /// Extra data Ferry does not understand may be ignored (when there is any).
    public var extraDataCompatible: Bool
    public var extraDataSize: Int
    public var tableOffset: Int64
    public var tableSize: Int

    public var granularity: Int64 { 1 << Int64(granularityBits) }

    enum Flag {
        static let inUse: UInt32 = 1 << 0
        static let auto: UInt32 = 1 << 1
        static let extraDataCompatible: UInt32 = 1 << 2
    }

    /// The most ranges one bitmap may expand to; a more fragmented bitmap is refused as unusable
    /// rather than allowed to take unbounded memory.
    public static let maxRanges = 1 << 22
}

extension QCOW2BlockSource {
    /// The bitmaps of this image (not of its backing images). Throws when the bitmaps extension or
    /// directory is malformed.
    public func bitmaps() throws -> [QCOW2Bitmap] {
        if let problem = header.bitmapsProblem {
            throw QCOW2Error.corruptTable(path: path, table: "bitmaps extension", detail: problem)
        }
        guard let ext = header.bitmaps else { return [] }
        let directory = try readMetadata(at: ext.directoryOffset, count: ext.directorySize, structure: "bitmap directory")
        return try Self.parseBitmapDirectory(directory, count: ext.count, header: header, fileSize: fileSize, path: path)
    }

    static func parseBitmapDirectory(_ bytes: [UInt8], count: Int, header: QCOW2Header, fileSize: Int64, path: String) throws(QCOW2Error)
        -> [QCOW2Bitmap]
    {
        func corrupt(_ detail: String) -> QCOW2Error { .corruptTable(path: path, table: "bitmap directory", detail: detail) }
        var bitmaps: [QCOW2Bitmap] = []
        var names: Set<String> = []
        var offset = 0
        for index in 0..<count {
            guard offset + 24 <= bytes.count else { throw corrupt("entry \(index) starts past the directory's \(bytes.count) bytes") }
            let tableOffset = bytes.be64(at: offset)
            let tableSize = Int(bytes.be32(at: offset + 8))
            let flags = bytes.be32(at: offset + 12)
            let type = bytes[offset + 16]
            let granularityBits = Int(bytes[offset + 17])
            let nameSize = Int(bytes.be16(at: offset + 18))
            let extraSize = Int(bytes.be32(at: offset + 20))
            guard nameSize > 0, nameSize <= 1023 else { throw corrupt("entry \(index) has a \(nameSize)-byte name") }
            guard extraSize <= 1 << 16 else { throw corrupt("entry \(index) has \(extraSize) bytes of extra data") }
            let entrySize = (24 + extraSize + nameSize + 7) & ~7
            guard offset + 24 + extraSize + nameSize <= bytes.count else { throw corrupt("entry \(index) runs past the directory") }
            let name = bytes.string(at: offset + 24 + extraSize, count: nameSize)
            guard names.insert(name).inserted else { throw corrupt("bitmap \(name) appears twice") }
            guard flags & ~0x7 == 0 else { throw corrupt("bitmap \(name) has reserved flags 0x\(String(flags, radix: 16)) set") }
            guard granularityBits <= 63 else { throw corrupt("bitmap \(name) has granularity bits \(granularityBits)") }
            let clusterSize = UInt64(header.clusterSize)
            guard tableOffset % clusterSize == 0, tableOffset + UInt64(tableSize) * 8 <= UInt64(fileSize) else {
                throw corrupt("bitmap \(name)'s table at \(tableOffset) (\(tableSize) entries) is unaligned or outside the file")
            }
            bitmaps.append(
                QCOW2Bitmap(
                    name: name, type: type, granularityBits: granularityBits,
                    inUse: flags & QCOW2Bitmap.Flag.inUse != 0, enabled: flags & QCOW2Bitmap.Flag.auto != 0,
                    extraDataCompatible: flags & QCOW2Bitmap.Flag.extraDataCompatible != 0, extraDataSize: extraSize,
                    tableOffset: Int64(tableOffset), tableSize: tableSize))
            offset += entrySize
        }
        return bitmaps
    }

    /// The byte ranges of the disk that `bitmap` marks dirty, clipped to the disk's size.
    /// Throws when its table or data is malformed or too fragmented to hold in memory.
    public func dirtyRanges(of bitmap: QCOW2Bitmap) throws -> BlockRangeList {
        func corrupt(_ detail: String) -> QCOW2Error {
            .corruptTable(path: path, table: "bitmap table of \(bitmap.name)", detail: detail)
        }
        guard bitmap.type == 1 else { throw corrupt("type \(bitmap.type) is not a dirty tracking bitmap") }
        guard (9...31).contains(bitmap.granularityBits) else {
            throw corrupt("granularity 2^\(bitmap.granularityBits) is outside 512 B...2 GiB")
        }
        let clusterSize = Int64(header.clusterSize)
        let granules = (size + bitmap.granularity - 1) / bitmap.granularity
        let bytesNeeded = (granules + 7) / 8
        let expectedTableSize = (bytesNeeded + clusterSize - 1) / clusterSize
        guard Int64(bitmap.tableSize) == expectedTableSize else {
            throw corrupt(
                """
                it has \(bitmap.tableSize) entries where a \(size)-byte disk \
                at granularity \(bitmap.granularity) needs \(expectedTableSize)
                """
            )
        }
        let table = try readMetadata(at: bitmap.tableOffset, count: bitmap.tableSize * 8, structure: "bitmap table of \(bitmap.name)")
            .withUnsafeBytes(decodeBigEndianTable)

        var ranges = BlockRangeList()
        func mark(_ first: Int64, _ end: Int64) throws {
            ranges.append((first * bitmap.granularity)..<min(size, end * bitmap.granularity))
            guard ranges.ranges.count <= QCOW2Bitmap.maxRanges else {
                throw corrupt("it is fragmented into more than \(QCOW2Bitmap.maxRanges) ranges")
            }
        }
        let granulesPerCluster = clusterSize * 8
        var cluster = [UInt8](repeating: 0, count: Int(clusterSize))
        for (index, entry) in table.enumerated() {
            let first = Int64(index) * granulesPerCluster
            let end = min(granules, first + granulesPerCluster)
            let host = Int64(entry & 0x00FF_FFFF_FFFF_FE00)
            guard entry & 0xFF00_0000_0000_01FE == 0 else { throw corrupt("entry \(index) has reserved bits set") }
            if host == 0 {
                if entry & 1 != 0 { try mark(first, end) }
                continue
            }
            guard entry & 1 == 0, host % clusterSize == 0, host + clusterSize <= fileSize else {
                throw corrupt("entry \(index) points at \(host), unaligned or outside the \(fileSize)-byte file")
            }
            cluster = try readMetadata(at: host, count: Int(clusterSize), structure: "bitmap data of \(bitmap.name)")
            try cluster.withUnsafeBytes { bytes in
                let words = bytes.count / 8
                var runStart: Int64 = -1
                for w in 0..<words {
                    let base = first + Int64(w) * 64
                    if base >= end { break }
                    let word = UInt64(littleEndian: bytes.loadUnaligned(fromByteOffset: w * 8, as: UInt64.self))
                    if word == 0, runStart < 0 { continue }
                    if word == .max, runStart >= 0 { continue }
                    for bit in 0..<64 {
                        let granule = base + Int64(bit)
                        if granule >= end { break }
                        let set = word & (1 << UInt64(bit)) != 0
                        if set, runStart < 0 { runStart = granule }
                        if !set, runStart >= 0 { try mark(runStart, granule); runStart = -1 }
                    }
                }
                if runStart >= 0 { try mark(runStart, end) }
            }
        }
        return ranges
    }
}
