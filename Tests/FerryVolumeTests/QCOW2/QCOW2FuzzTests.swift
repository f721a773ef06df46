import FerryQEMUTestSupport
import FerryTestSupport
import FerryVolume
import Foundation
import Testing

/// Seeded random mutations of the header, extensions and tables of real images: opening and reading
/// each mutant either works or throws a typed error. A crash, a hang or a huge allocation fails the
/// run. The seeds make every failure reproducible.
@Suite(.enabled(if: QEMUTools.shouldRun, "qemu-img/qemu-io (Debian qemu-utils) are not installed"))
struct QCOW2FuzzTests {
    static let iterations = 400

    /// Regions worth mutating: the header cluster's start, the L1 table, the L2 tables it points at.
    static func targets(_ bytes: [UInt8]) -> [Range<Int>] {
        let (clusterSize, l1Offset, l1Size) = QCOW2Bytes.layout(bytes)
        var regions = [0..<min(bytes.count, 512)]
        if l1Size > 0, l1Offset + l1Size * 8 <= bytes.count {
            regions.append(l1Offset..<(l1Offset + l1Size * 8))
            for i in 0..<l1Size {
                let l2 = Int(QCOW2Bytes.be64(bytes, l1Offset + i * 8) & 0x00FF_FFFF_FFFF_FE00)
                if l2 > 0, l2 + clusterSize <= bytes.count { regions.append(l2..<(l2 + min(clusterSize, 4096))) }
            }
        }
        return regions
    }

    static func mutate(_ bytes: [UInt8], regions: [Range<Int>], using random: inout SeededGenerator) -> [UInt8] {
        var copy = bytes
        if Int.random(in: 0..<10, using: &random) == 0 {
            return Array(copy[0..<Int.random(in: 0..<copy.count, using: &random)]) // truncation
        }
        for _ in 0..<Int.random(in: 1...6, using: &random) {
            let region = regions.randomElement(using: &random)!
            let at = Int.random(in: region, using: &random)
            switch Int.random(in: 0..<4, using: &random) {
            case 0: copy[at] ^= UInt8(1) << UInt8.random(in: 0..<8, using: &random)
            case 1: copy[at] = UInt8.random(in: 0...255, using: &random)
            case 2: copy[at] = 0xFF
            default: // a whole 64-bit field
                let field = at & ~7
                for i in field..<min(field + 8, copy.count) { copy[i] = UInt8.random(in: 0...255, using: &random) }
            }
        }
        return copy
    }

    /// Reads a mutant the way a backup would, with a bounded amount of I/O.
    static func exercise(_ path: String) throws {
        let source = try QCOW2BlockSource(path: path, options: QCOW2Options(l2CacheBytes: 1 << 20))
        var budget: Int64 = 16 << 20
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 20, alignment: 16)
        defer { buffer.deallocate() }
        for range in try source.dataRanges(in: 0..<min(source.size, 1 << 40)) {
            var offset = range.lowerBound
            while offset < range.upperBound, budget > 0 {
                let n = Int(min(Int64(buffer.count), range.upperBound - offset))
                try source.read(at: offset, into: UnsafeMutableRawBufferPointer(rebasing: buffer[0..<n]))
                offset += Int64(n)
                budget -= Int64(n)
            }
        }
    }

    @Test(
        "mutated images fail cleanly",
        arguments: [
            ("cluster_size=64k", false), ("cluster_size=512", false), ("cluster_size=64k,extended_l2=on", false),
            ("compression_type=zlib", true), ("compression_type=zstd", true),
        ])
    func mutations(options: String, compress: Bool) throws {
        let dir = try TemporaryDirectory("qcow2-fuzz")
        try QEMUTools.img(
            "create", "-q", "-f", "qcow2", "-o", options.contains("compression") ? "cluster_size=64k" : options, "disk.qcow2", "4M",
            in: dir.path)
        try QEMUTools.io(
            "disk.qcow2", ["write -P 0x11 0 64k", "write -P 0x22 1000k 300k", "write -z 2M 64k", "write -P 0x33 3M 4k"], in: dir.path)
        if compress {
            try QEMUTools.img("convert", "-c", "-O", "qcow2", "-o", options, "disk.qcow2", "packed.qcow2", in: dir.path)
            try FileManager.default.moveItem(atPath: dir.file("packed.qcow2"), toPath: dir.file("image.qcow2"))
        } else {
            try FileManager.default.moveItem(atPath: dir.file("disk.qcow2"), toPath: dir.file("image.qcow2"))
        }
        let original = try QCOW2Bytes.load(dir.file("image.qcow2"))
        try Self.exercise(dir.file("image.qcow2")) // the unmutated image reads
        let regions = Self.targets(original)
        var random = SeededGenerator(seed: options.utf8.reduce(0xCBF2_9CE4_8422_2325) { ($0 ^ UInt64($1)) &* 0x100_0000_01B3 })
        var outcomes: [String: Int] = [:]
        for iteration in 0..<Self.iterations {
            let mutant = Self.mutate(original, regions: regions, using: &random)
            let path = dir.file("mutant.qcow2")
            try QCOW2Bytes.save(mutant, path)
            do {
                try Self.exercise(path)
                outcomes["ok", default: 0] += 1
            } catch let error as QCOW2Error {
                outcomes[String(describing: error).split(separator: ":").dropFirst().first.map(String.init) ?? "?", default: 0] += 1
            } catch let error as VolumeError {
                outcomes["volume: \(error)".prefix(40).description, default: 0] += 1
            } catch {
                Issue.record("iteration \(iteration): untyped error \(error)")
            }
        }
        print("qcow2 fuzz \(options): \(outcomes.sorted { $0.value > $1.value })")
        #expect(outcomes.values.reduce(0, +) == Self.iterations)
        #expect(outcomes.count > 1, "mutations produced both readable and refused images: \(outcomes)")
    }
}
