/// An ascending list of disjoint byte ranges, built by appending in order (adjacent and
/// overlapping ranges merge), with the set operations change tracking needs.
public struct BlockRangeList: Sendable, Equatable {
    public private(set) var ranges: [Range<Int64>] = []

    public init() {}

    /// Normalises any list of ranges (unordered, overlapping, empty ones).
    public init(_ ranges: some Sequence<Range<Int64>>) {
        for range in ranges.filter({ !$0.isEmpty }).sorted(by: { $0.lowerBound < $1.lowerBound }) { append(range) }
    }

    /// Adds `range`, which must not start before the last range added.
    public mutating func append(_ range: Range<Int64>) {
        guard !range.isEmpty else { return }
        if let last = ranges.last, range.lowerBound <= last.upperBound {
            precondition(range.lowerBound >= last.lowerBound, "ranges must be appended in order")
            ranges[ranges.count - 1] = last.lowerBound..<max(last.upperBound, range.upperBound)
        } else {
            ranges.append(range)
        }
    }

    /// Total bytes covered.
    public var byteCount: Int64 { ranges.reduce(0) { $0 + Int64($1.count) } }

    /// Every range widened outward to multiples of `blockSize`, clipped to `0..<size`.
    public func widened(toBlockSize blockSize: Int64, size: Int64) -> BlockRangeList {
        precondition(blockSize > 0)
        return BlockRangeList(
            ranges.map { range in
                let start = range.lowerBound / blockSize * blockSize
                let end = min(size, (range.upperBound + blockSize - 1) / blockSize * blockSize)
                return max(0, start)..<max(start, end)
            })
    }

    /// The ranges covered by either list.
    public func union(_ other: BlockRangeList) -> BlockRangeList {
        BlockRangeList(ranges + other.ranges)
    }

    /// The parts of these ranges inside `limit`.
    public func clipped(to limit: Range<Int64>) -> BlockRangeList {
        BlockRangeList(
            ranges.compactMap { range in
                let clipped = range.clamped(to: limit)
                return clipped.isEmpty ? nil : clipped
            })
    }

    /// The ranges covered by both lists.
    public func intersection(_ other: BlockRangeList) -> BlockRangeList {
        var result = BlockRangeList()
        var i = 0, j = 0
        while i < ranges.count, j < other.ranges.count {
            let a = ranges[i], b = other.ranges[j]
            let low = max(a.lowerBound, b.lowerBound), high = min(a.upperBound, b.upperBound)
            if low < high { result.append(low..<high) }
            if a.upperBound < b.upperBound { i += 1 } else { j += 1 }
        }
        return result
    }

    /// The parts of `whole` not covered by these ranges.
    public func complement(in whole: Range<Int64>) -> BlockRangeList {
        var result = BlockRangeList()
        var position = whole.lowerBound
        for range in clipped(to: whole).ranges {
            if range.lowerBound > position { result.append(position..<range.lowerBound) }
            position = max(position, range.upperBound)
        }
        if position < whole.upperBound { result.append(position..<whole.upperBound) }
        return result
    }

    /// Whether `offset` lies in one of the ranges.
    public func contains(_ offset: Int64) -> Bool {
        var low = 0, high = ranges.count
        while low < high {
            let mid = (low + high) / 2
            if ranges[mid].upperBound <= offset { low = mid + 1 } else { high = mid }
        }
        return low < ranges.count && ranges[low].contains(offset)
    }
}
