/// One page of a volume's block map: the chunk ids of up to `pageEntries` consecutive blocks
/// (`ChunkID.zero` for a block of zeros), stored as a chunk in a metadata pack. Pages are
/// content-addressed, so a page an incremental did not change is not stored again, and a
/// backup split into ranges on page boundaries yields the same pages as a single pass.
///
/// Encoding: the entries' 32-byte ids, concatenated.
public struct BlockMapPage: Sendable, Equatable {
    public var entries: [ChunkID]

    public init(entries: [ChunkID]) {
        self.entries = entries
    }

    public func encode() -> [UInt8] {
        [UInt8](unsafeUninitializedCapacity: entries.count * 32) { buffer, count in
            let raw = UnsafeMutableRawBufferPointer(buffer)
            for (i, id) in entries.enumerated() { id.store(to: raw, at: i * 32) }
            count = entries.count * 32
        }
    }

    public static func decode(_ bytes: [UInt8], expectedEntries: Int, name: String) throws -> BlockMapPage {
        guard bytes.count == expectedEntries * 32 else {
            throw RepositoryError.corruptObject(
                name: name, detail: "block-map page holds \(bytes.count / 32) entries, expected \(expectedEntries)")
        }
        return bytes.withUnsafeBytes { raw in
            BlockMapPage(entries: (0..<expectedEntries).map { ChunkID(bytes: raw, at: $0 * 32) })
        }
    }
}

extension VolumeManifest {
    /// How many entries page `page` holds (the last page may be short).
    public func entries(inPage page: Int) -> Int {
        min(pageEntries, blockCount - page * pageEntries)
    }

    /// The chunk id of page `page`.
    public func pageID(_ page: Int) throws -> ChunkID {
        guard page < pages.count else {
            throw RepositoryError.corruptObject(name: "volume \(name)", detail: "block-map page \(page) missing")
        }
        return pages[page]
    }

    /// Number of pages a complete block map has.
    public var pageCount: Int { (blockCount + pageEntries - 1) / pageEntries }
}
