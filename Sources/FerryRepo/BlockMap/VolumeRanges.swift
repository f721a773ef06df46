/// A volume backed up in ranges of whole block-map pages, each by its own work unit, perhaps on
/// different nodes: where to split it, and how the ranges' manifest entries join
/// into one whose block map is the one a single pass would have written (pages are
/// content-addressed, so equal entries give equal page ids).
public enum VolumeRanges {
    /// A range's manifest entry and the page it starts at.
    public struct Part: Sendable {
        public var firstPage: Int
        public var volume: VolumeManifest

        public init(firstPage: Int, volume: VolumeManifest) {
            self.firstPage = firstPage
            self.volume = volume
        }
    }

    public enum JoinError: Error, CustomStringConvertible {
        case mismatched(String)
        case gap(String)

        public var description: String {
            switch self {
            case .mismatched(let detail): "the ranges do not belong to one volume: \(detail)"
            case .gap(let detail): "the ranges do not cover the volume: \(detail)"
            }
        }
    }

    /// Splits a volume of `size` bytes into at most `count` ranges of whole pages, none smaller
    /// than `minimumBytes` (but the last); returns page ranges, the last one open-ended (the
    /// agent clamps it to the volume it finds, whose size may differ from the claim's).
    public static func split(size: Int64, blockSize: Int, pageEntries: Int, count: Int, minimumBytes: Int64) -> [Range<Int>] {
        let pageBytes = Int64(blockSize) * Int64(pageEntries)
        let pages = max(1, Int((size + pageBytes - 1) / pageBytes))
        let byMinimum = minimumBytes > 0 ? max(1, Int(Int64(pages) * pageBytes / max(minimumBytes, pageBytes))) : pages
        let ranges = max(1, min(count, pages, byMinimum))
        var result: [Range<Int>] = []
        var start = 0
        for index in 0..<ranges {
            let end = index == ranges - 1 ? Int.max : start + (pages - start) / (ranges - index)
            result.append(start..<end)
            start = end
        }
        return result
    }

    /// The bytes of a volume of `size` bytes that `pages` cover.
    public static func bytes(of pages: Range<Int>, size: Int64, blockSize: Int, pageEntries: Int) -> Int64 {
        let pageBytes = Int64(blockSize) * Int64(pageEntries)
        let low = min(size, Int64(pages.lowerBound) * pageBytes)
        let high = pages.upperBound >= Int(size / pageBytes) + 1 ? size : min(size, Int64(pages.upperBound) * pageBytes)
        return max(0, high - low)
    }

    /// One manifest entry from the ranges' (in any order): pages in order, counters summed,
    /// change tracking kept where the ranges agree.
    public static func join(_ parts: [Part]) throws(JoinError) -> VolumeManifest {
        let sorted = parts.sorted { $0.firstPage < $1.firstPage }
        guard var joined = sorted.first?.volume else { throw .gap("no ranges") }
        joined.pages = []
        joined.stats = VolumeStats()
        for part in sorted {
            let volume = part.volume
            guard volume.name == joined.name, volume.size == joined.size, volume.blockSize == joined.blockSize,
                volume.pageEntries == joined.pageEntries
            else {
                throw .mismatched(
                    """
                    \(volume.name) (\(volume.size) bytes, \(volume.blockSize)-byte blocks) \
                    beside \(joined.name) (\(joined.size), \(joined.blockSize))
                    """
                )
            }
            guard part.firstPage == joined.pages.count else {
                throw .gap("a range starts at page \(part.firstPage) where page \(joined.pages.count) was expected")
            }
            joined.pages += volume.pages
            joined.stats.size += volume.stats.size
            joined.stats.merge(volume.stats)
            joined.stats.bytesStored += volume.stats.bytesStored
            joined.stats.seconds = max(joined.stats.seconds, volume.stats.seconds)
        }
        guard joined.pages.count == joined.pageCount else {
            throw .gap("\(joined.pages.count) of \(joined.pageCount) block-map pages")
        }
        let records = sorted.map(\.volume.changeTracking)
        if let first = records.first ?? nil, !records.allSatisfy({ $0 == first }) {
            // A range that fell back compared every block; the volume's record says so.
            let fallback = records.compactMap { $0 }.first { $0.fallbackReason != nil }
            let bookmarks = Set(records.map { $0?.bookmark })
            joined.changeTracking = ChangeTrackingRecord(
                provider: records.allSatisfy({ $0?.provider == first.provider }) ? first.provider : "hash",
                bookmarkProvider: bookmarks.count == 1 ? first.bookmarkProvider : nil,
                bookmark: bookmarks.count == 1 ? first.bookmark : nil,
                fallbackReason: fallback?.fallbackReason ?? "the ranges' change tracking differed")
        }
        return joined
    }
}
