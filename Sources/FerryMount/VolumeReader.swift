import FerryRepo
import Synchronization

/// Reads byte ranges of one volume of a snapshot: each block's entry in the block map names its
/// chunk (zero entries are answered with zeros, never fetched), chunks come verified through the
/// shared cache, and a sequential reader gets the blocks ahead of it fetched as pack ranges.
public final class VolumeReader: Sendable {
    public let volume: VolumeManifest
    let fetcher: ChunkFetcher
    let pages: FlightCache<ChunkID, [ChunkID]>
    private let readAhead: Mutex<ReadAhead>

    /// How many bytes of block-map pages all volumes may keep decoded.
    public static let defaultPageCacheBytes = 32 << 20

    /// - Parameter readAhead: the largest read-ahead window in bytes (0 turns it off).
    public init(volume: VolumeManifest, fetcher: ChunkFetcher, pages: FlightCache<ChunkID, [ChunkID]>, readAhead maximum: Int64) {
        self.volume = volume
        self.fetcher = fetcher
        self.pages = pages
        let block = Int64(volume.blockSize)
        self.readAhead = Mutex(ReadAhead(minimum: max(4 << 20, 2 * block), maximum: maximum, slack: max(8 << 20, 4 * block)))
    }

    public var size: Int64 { volume.size }
    var blockSize: Int64 { Int64(volume.blockSize) }

    // MARK: - Block map

    /// The entries of block-map page `page` (fetched once, then cached).
    func entries(page: Int) async throws -> [ChunkID] {
        let id = try volume.pageID(page)
        let repository = fetcher.repository
        let volume = self.volume
        return try await pages.value(for: id) { try await repository.blockMapPage(volume, page: page).entries }
    }

    /// The chunk ids of `blocks`, fetching the pages that are not cached.
    func entries(blocks: Range<Int>) async throws -> [ChunkID] {
        var ids: [ChunkID] = []
        ids.reserveCapacity(blocks.count)
        var block = blocks.lowerBound
        while block < blocks.upperBound {
            let page = block / volume.pageEntries
            let first = page * volume.pageEntries
            let entries = try await entries(page: page)
            let end = min(blocks.upperBound, first + entries.count)
            guard end > block else {
                throw RepositoryError.corruptObject(name: "volume \(volume.name)", detail: "block-map page \(page) is short")
            }
            ids += entries[(block - first)..<(end - first)]
            block = end
        }
        return ids
    }

    /// The chunk ids of `blocks` if every page they need is cached.
    func cachedEntries(blocks: Range<Int>) -> [ChunkID]? {
        var ids: [ChunkID] = []
        var block = blocks.lowerBound
        while block < blocks.upperBound {
            let page = block / volume.pageEntries
            let first = page * volume.pageEntries
            guard let id = try? volume.pageID(page), let entries = pages.cached(id) else { return nil }
            let end = min(blocks.upperBound, first + entries.count)
            guard end > block else { return nil }
            ids += entries[(block - first)..<(end - first)]
            block = end
        }
        return ids
    }

    private func blocks(covering range: Range<Int64>) -> Range<Int> {
        Int(range.lowerBound / blockSize)..<Int((range.upperBound + blockSize - 1) / blockSize)
    }

    private func clamp(_ offset: Int64, _ count: Int) -> Range<Int64> {
        let start = min(max(0, offset), size)
        return start..<min(size, start + Int64(max(0, count)))
    }

    // MARK: - Reading

    /// `count` bytes at `offset` (fewer at the end of the volume).
    public func read(at offset: Int64, count: Int) async throws -> VolumeData {
        let range = clamp(offset, count)
        guard !range.isEmpty else { return VolumeData() }
        scheduleReadAhead(after: range)
        let blocks = blocks(covering: range)
        let ids = try await entries(blocks: blocks)
        let sources = fetcher.request(ids.lazy.filter { !$0.isZero }, priority: .demand)
        var data = VolumeData()
        for (i, id) in ids.enumerated() {
            let (blockRange, part) = slice(block: blocks.lowerBound + i, of: range)
            if id.isZero {
                data.append(.zeros(part.count))
            } else {
                let chunk = try await sources[id]!.value()
                try check(chunk, id: id, blockRange: blockRange)
                data.append(.chunk(chunk, part))
            }
        }
        return data
    }

    /// The read when every page and chunk it needs is in memory (a reply without waiting), else nil.
    public func readIfCached(at offset: Int64, count: Int) -> VolumeData? {
        let range = clamp(offset, count)
        guard !range.isEmpty else { return VolumeData() }
        let blocks = blocks(covering: range)
        guard let ids = cachedEntries(blocks: blocks) else { return nil }
        var data = VolumeData()
        for (i, id) in ids.enumerated() {
            let (blockRange, part) = slice(block: blocks.lowerBound + i, of: range)
            if id.isZero {
                data.append(.zeros(part.count))
            } else {
                guard let chunk = fetcher.cache.cached(id), (try? check(chunk, id: id, blockRange: blockRange)) != nil else { return nil }
                data.append(.chunk(chunk, part))
            }
        }
        scheduleReadAhead(after: range)
        return data
    }

    /// Block `block`'s byte range in the volume and the part of it `range` covers, relative to the block.
    private func slice(block: Int, of range: Range<Int64>) -> (Range<Int64>, Range<Int>) {
        let start = Int64(block) * blockSize
        let blockRange = start..<min(size, start + blockSize)
        let low = max(range.lowerBound, blockRange.lowerBound) - start
        let high = min(range.upperBound, blockRange.upperBound) - start
        return (blockRange, Int(low)..<Int(high))
    }

    private func check(_ chunk: ChunkData, id: ChunkID, blockRange: Range<Int64>) throws {
        guard chunk.count == blockRange.count else {
            throw RepositoryError.corruptObject(
                name: "volume \(volume.name)",
                detail: "chunk \(id.short) holds \(chunk.count) bytes, the block at \(blockRange.lowerBound) has \(blockRange.count)")
        }
    }

    /// Records the access and, for a sequential reader, starts fetching the window ahead of it.
    private func scheduleReadAhead(after range: Range<Int64>) {
        let size = self.size
        guard let ahead = readAhead.withLock({ $0.access(range, size: size) }) else { return }
        let blocks = blocks(covering: ahead)
        if let ids = cachedEntries(blocks: blocks) {
            fetcher.prefetch(ids.lazy.filter { !$0.isZero })
            return
        }
        Task {
            guard let ids = try? await self.entries(blocks: blocks) else { return }
            self.fetcher.prefetch(ids.lazy.filter { !$0.isZero })
        }
    }

    // MARK: - Holes

    /// SEEK_DATA (`data`) or SEEK_HOLE from `offset`, at block granularity: the offset of the next
    /// block that holds data (or a zero block), or nil when there is none (ENXIO). The end of the
    /// volume counts as a hole.
    public func seek(from offset: Int64, data: Bool) async throws -> Int64? {
        guard offset >= 0, offset < size else { return nil }
        var block = Int(offset / blockSize)
        let count = volume.blockCount
        while block < count {
            let page = block / volume.pageEntries
            let first = page * volume.pageEntries
            let entries = try await entries(page: page)
            for i in (block - first)..<entries.count where entries[i].isZero != data {
                return max(offset, Int64(first + i) * blockSize)
            }
            block = first + entries.count
        }
        return data ? nil : size
    }

    /// Bytes of blocks that are not zero, from the backup's counters (for st_blocks).
    public var allocatedEstimate: Int64 {
        max(0, size - Int64(volume.stats.zeroBlocks) * blockSize)
    }
}
