import FerryQEMUTestSupport
import FerryVolume
import Testing

/// Range arithmetic, the spot-check sample and the `--cbt` grammar.
struct CBTPrimitivesTests {
    @Test("ranges merge, widen to block boundaries, complement and clip")
    func rangeList() {
        let list = BlockRangeList([10..<20, 0..<5, 18..<30, 40..<40, 5..<6])
        #expect(list.ranges == [0..<6, 10..<30])
        #expect(list.byteCount == 26)
        #expect(list.widened(toBlockSize: 8, size: 100).ranges == [0..<32])
        #expect(BlockRangeList([1..<2, 17..<18, 95..<99]).widened(toBlockSize: 16, size: 99).ranges == [0..<32, 80..<99])
        #expect(list.complement(in: 0..<40).ranges == [6..<10, 30..<40])
        #expect(list.complement(in: 8..<12).ranges == [8..<10])
        #expect(list.clipped(to: 3..<12).ranges == [3..<6, 10..<12])
        #expect(list.union(BlockRangeList([6..<10])).ranges == [0..<30])
        #expect(list.contains(0) && list.contains(29) && !list.contains(6) && !list.contains(30) && !list.contains(-1))
    }

    @Test("the sample is the larger of 16 blocks and 0.1 %, drawn only from unchanged blocks")
    func sample() {
        let sample = CBTSample.standard
        #expect(sample.count(unchanged: 10) == 10)
        #expect(sample.count(unchanged: 1000) == 16)
        #expect(sample.count(unchanged: 100_000) == 100)
        let changed = BlockRangeList([0..<500, 600..<99_000])
        var random = SeededGenerator(seed: 42)
        let picked = sample.choose(blockCount: 100_000, changed: changed, using: &random)
        #expect(picked.count == 16) // 2100 unchanged blocks
        #expect(Set(picked).count == picked.count && picked == picked.sorted())
        #expect(picked.allSatisfy { !changed.contains($0) && $0 < 100_000 })
        // Both unchanged stretches get drawn from over many seeds.
        var early = 0
        for seed in 0..<50 {
            var random = SeededGenerator(seed: UInt64(seed))
            early += sample.choose(blockCount: 100_000, changed: changed, using: &random).filter { $0 < 600 }.count
        }
        #expect(early > 0 && early < 50 * 16)
        #expect(
            CBTSample(minimumBlocks: 0, fraction: 1).choose(blockCount: 10, changed: BlockRangeList([2..<9]), using: &random) == [0, 1, 9])
    }

    @Test("--cbt values")
    func modes() throws {
        #expect(try CBTMode(parsing: "auto") == .auto)
        #expect(try CBTMode(parsing: "qcow2-bitmap") == .qcow2Bitmap(name: nil))
        #expect(try CBTMode(parsing: "qcow2-bitmap:daily") == .qcow2Bitmap(name: "daily"))
        #expect(try CBTMode(parsing: "csi").description == "csi")
        #expect(throws: CBTModeError.self) { try CBTMode(parsing: "qcow2-bitmap:") }
        #expect(throws: CBTModeError.self) { try CBTMode(parsing: "rsync") }
    }
}
