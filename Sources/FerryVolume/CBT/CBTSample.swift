/// The spot check of a CBT incremental: a random sample of the blocks a tracker calls unchanged,
/// which the mover reads, hashes and compares with the parent's block map. A mismatch means the
/// tracker missed a write; the provider is then failed loudly and everything is compared.
public struct CBTSample: Sendable, Equatable {
    /// At least this many blocks are sampled (or every unchanged block, if fewer).
    public var minimumBlocks: Int64
    /// And at least this fraction of the unchanged blocks.
    public var fraction: Double

    /// The default: the larger of 16 blocks and 0.1 % of the unchanged blocks.
    public static let standard = CBTSample(minimumBlocks: 16, fraction: 0.001)

    public init(minimumBlocks: Int64, fraction: Double) {
        self.minimumBlocks = max(0, minimumBlocks)
        self.fraction = min(1, max(0, fraction))
    }

    /// How many of `unchanged` blocks to sample.
    public func count(unchanged: Int64) -> Int64 {
        min(unchanged, max(minimumBlocks, Int64((Double(unchanged) * fraction).rounded(.up))))
    }

    /// Distinct block indexes, ascending, drawn uniformly from the blocks of `0..<blockCount` that
    /// are not in `changed` (block-index ranges).
    public func choose(blockCount: Int64, changed: BlockRangeList, using random: inout some RandomNumberGenerator) -> [Int64] {
        let unchanged = changed.complement(in: 0..<blockCount).ranges
        var prefix: [Int64] = [0] // prefix[i]: unchanged blocks before unchanged[i]
        for range in unchanged { prefix.append(prefix.last! + Int64(range.count)) }
        let total = prefix.last!
        let wanted = count(unchanged: total)
        if wanted == total { return unchanged.flatMap { Array($0) } }
        var picked: Set<Int64> = []
        while Int64(picked.count) < wanted {
            let rank = Int64.random(in: 0..<total, using: &random)
            var low = 0, high = unchanged.count - 1
            while low < high {
                let mid = (low + high + 1) / 2
                if prefix[mid] <= rank { low = mid } else { high = mid - 1 }
            }
            picked.insert(unchanged[low].lowerBound + (rank - prefix[low]))
        }
        return picked.sorted()
    }
}
