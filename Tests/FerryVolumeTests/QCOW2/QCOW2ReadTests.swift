import FerryQEMUTestSupport
import FerryTestSupport
import FerryVolume
import Foundation
import Testing

/// Ferry's qcow2 reader against qemu-img's own conversion of the same images, byte for byte.
@Suite(.enabled(if: QEMUTools.shouldRun, "qemu-img/qemu-io (Debian qemu-utils) are not installed"))
struct QCOW2ReadTests {
    /// Writes a spread of patterns: cluster-aligned, unaligned, spanning L2 boundaries, zeroed.
    static let patternCommands = [
        "write -P 0x11 0 64k",
        "write -P 0x22 100k 3k",
        "write -P 0x33 1M 1M",
        "write -P 0x44 3583k 2k",
        "write -z 1280k 128k",
        "write -P 0x55 7M 512",
        "discard 1536k 64k",
    ]

    /// Reads `source` whole and in odd-sized random pieces, comparing with `reference`.
    func expectSameDisk(_ source: any BlockSource, _ reference: [UInt8], seed: UInt64 = 1) throws {
        #expect(source.size == Int64(reference.count))
        let whole = try source.readAll()
        #expect(Bytes.same(whole, reference), "whole-disk read differs from qemu-img convert")
        var random = SeededGenerator(seed: seed)
        for _ in 0..<200 {
            let offset = Int.random(in: 0..<reference.count, using: &random)
            let count = Int.random(in: 1...min(300_000, reference.count - offset), using: &random)
            var piece = [UInt8](repeating: 0xEE, count: count)
            try piece.withUnsafeMutableBytes { try source.read(at: Int64(offset), into: $0) }
            #expect(Bytes.same(piece, reference[offset..<(offset + count)]), "read of \(count) bytes at \(offset) differs")
        }
        // Everything outside dataRanges must read as zeros.
        let ranges = BlockRangeList(try source.dataRanges(in: 0..<source.size))
        for hole in ranges.complement(in: 0..<source.size).ranges {
            #expect(
                Bytes.isZero(reference[Int(hole.lowerBound)..<Int(hole.upperBound)]),
                "dataRanges left out non-zero bytes in \(hole)")
        }
    }

    @Test("v3 images of every cluster size read like qemu-img convert", arguments: ["512", "4k", "64k", "2M"])
    func clusterSizes(clusterSize: String) throws {
        let dir = try TemporaryDirectory("qcow2")
        try QEMUTools.img("create", "-q", "-f", "qcow2", "-o", "cluster_size=\(clusterSize)", "disk.qcow2", "8M", in: dir.path)
        try QEMUTools.io("disk.qcow2", Self.patternCommands, in: dir.path)
        let source = try QCOW2BlockSource(path: dir.file("disk.qcow2"))
        #expect(source.header.version == 3)
        try expectSameDisk(source, try QEMUTools.convertToRaw("disk.qcow2", in: dir.path))
    }

    @Test("version 2 (compat=0.10) image")
    func version2() throws {
        let dir = try TemporaryDirectory("qcow2")
        try QEMUTools.img("create", "-q", "-f", "qcow2", "-o", "compat=0.10", "disk.qcow2", "8M", in: dir.path)
        try QEMUTools.io("disk.qcow2", Self.patternCommands, in: dir.path)
        let source = try QCOW2BlockSource(path: dir.file("disk.qcow2"))
        #expect(source.header.version == 2)
        try expectSameDisk(source, try QEMUTools.convertToRaw("disk.qcow2", in: dir.path))
    }

    @Test("only written clusters are reported as data")
    func allocationMap() throws {
        let dir = try TemporaryDirectory("qcow2")
        try QEMUTools.img("create", "-q", "-f", "qcow2", "disk.qcow2", "1G", in: dir.path)
        try QEMUTools.io("disk.qcow2", ["write -P 1 64k 64k", "write -P 2 500M 100k", "write -z 600M 1M"], in: dir.path)
        let source = try QCOW2BlockSource(path: dir.file("disk.qcow2"))
        let ranges = try source.dataRanges(in: 0..<source.size)
        // 100k at 500M touches two 64 KiB clusters.
        #expect(ranges == [65536..<131072, 524_288_000..<(524_288_000 + 131_072)])
        #expect(try source.dataRanges(in: 70000..<80000) == [70000..<80000])
    }

    @Test("compressed clusters, deflate and zstd", arguments: ["zlib", "zstd"])
    func compressed(type: String) throws {
        let dir = try TemporaryDirectory("qcow2")
        try QEMUTools.img("create", "-q", "-f", "qcow2", "plain.qcow2", "8M", in: dir.path)
        try QEMUTools.io("plain.qcow2", Self.patternCommands + ["write -P 0x66 5M 700k"], in: dir.path)
        // Incompressible data too: qemu stores such clusters uncompressed.
        let noise = (0..<(256 << 10)).map { _ in UInt8.random(in: 0...255) }
        try Data(noise).write(to: URL(fileURLWithPath: dir.file("noise")))
        try ChildProcess.run(["qemu-io", "-f", "qcow2", "-c", "write -s \(dir.file("noise")) 6M 256k", "plain.qcow2"], in: dir.path)
        try QEMUTools.img("convert", "-c", "-O", "qcow2", "-o", "compression_type=\(type)", "plain.qcow2", "packed.qcow2", in: dir.path)
        let source = try QCOW2BlockSource(path: dir.file("packed.qcow2"))
        #expect(source.header.compressionType == (type == "zstd" ? .zstd : .deflate))
        try expectSameDisk(source, try QEMUTools.convertToRaw("packed.qcow2", in: dir.path))
    }

    @Test("extended L2 entries with subclusters over a backing file")
    func extendedL2() throws {
        let dir = try TemporaryDirectory("qcow2")
        try QEMUTools.img("create", "-q", "-f", "qcow2", "base.qcow2", "8M", in: dir.path)
        try QEMUTools.io("base.qcow2", ["write -P 0x77 0 8M"], in: dir.path)
        try QEMUTools.img(
            "create", "-q", "-f", "qcow2", "-o", "extended_l2=on,cluster_size=128k",
            "-b", "base.qcow2", "-F", "qcow2", "top.qcow2", in: dir.path)
        try QEMUTools.io(
            "top.qcow2",
            [
                "write -P 0x12 4k 4k", "write -z 20k 8k", "write -P 0x34 130k 9k",
                "write -P 0x56 1M 256k", "write -z 2M 128k", "discard 3M 12k",
            ], in: dir.path)
        let source = try QCOW2BlockSource(path: dir.file("top.qcow2"))
        #expect(source.header.hasExtendedL2)
        try expectSameDisk(source, try QEMUTools.convertToRaw("top.qcow2", in: dir.path))
    }

    @Test("backing chain: raw base, qcow2 middle, qcow2 top larger than the base")
    func backingChain() throws {
        let dir = try TemporaryDirectory("qcow2")
        try QEMUTools.img("create", "-q", "-f", "raw", "base.img", "4M", in: dir.path)
        try QEMUTools.io("base.img", format: "raw", ["write -P 0xA1 0 4M"], in: dir.path)
        try QEMUTools.img("create", "-q", "-f", "qcow2", "-b", "base.img", "-F", "raw", "mid.qcow2", "6M", in: dir.path)
        try QEMUTools.io("mid.qcow2", ["write -P 0xB2 1M 1M", "write -z 3M 64k", "write -P 0xB3 4M 1M"], in: dir.path)
        try QEMUTools.img("create", "-q", "-f", "qcow2", "-b", "mid.qcow2", "-F", "qcow2", "top.qcow2", "8M", in: dir.path)
        try QEMUTools.io("top.qcow2", ["write -P 0xC3 1536k 64k", "write -P 0xC4 7M 100k"], in: dir.path)
        let source = try QCOW2BlockSource(path: dir.file("top.qcow2"))
        #expect(source.chain.count == 2)
        #expect(source.chain.last?.backing is RawBlockSource)
        try expectSameDisk(source, try QEMUTools.convertToRaw("top.qcow2", in: dir.path))
        // A chain without format extensions is probed by magic.
        try QCOW2Bytes.retypeExtension(0xE279_2ACA, to: 0x0BAD_F00D, in: dir.file("top.qcow2"))
        #expect(try QCOW2BlockSource(path: dir.file("top.qcow2")).header.backingFormat == nil)
        try expectSameDisk(try QCOW2BlockSource(path: dir.file("top.qcow2")), try QEMUTools.convertToRaw("top.qcow2", in: dir.path))
    }

    @Test("external data file, raw and not raw", arguments: [true, false])
    func externalDataFile(raw: Bool) throws {
        let dir = try TemporaryDirectory("qcow2")
        try QEMUTools.img("create", "-q", "-f", "raw", "disk.img", "8M", in: dir.path)
        try QEMUTools.img(
            "create", "-q", "-f", "qcow2", "-o", "data_file=disk.img,data_file_raw=\(raw ? "on" : "off")",
            "overlay.qcow2", "8M", in: dir.path)
        try QEMUTools.io("overlay.qcow2", Self.patternCommands, in: dir.path)
        let source = try QCOW2BlockSource(path: dir.file("overlay.qcow2"))
        #expect(source.header.hasExternalDataFile)
        #expect(source.header.dataFileIsRaw == raw)
        #expect(source.dataFilePath == dir.file("disk.img"))
        try expectSameDisk(source, try QEMUTools.convertToRaw("overlay.qcow2", in: dir.path))
    }

    @Test("concurrent reads return the same bytes as one reader")
    func concurrentReads() async throws {
        let dir = try TemporaryDirectory("qcow2")
        try QEMUTools.img("create", "-q", "-f", "qcow2", "-o", "cluster_size=4k", "disk.qcow2", "16M", in: dir.path)
        try QEMUTools.io("disk.qcow2", (0..<16).map { "write -P \($0 + 1) \($0)M 600k" }, in: dir.path)
        let reference = try QEMUTools.convertToRaw("disk.qcow2", in: dir.path)
        // A cache of 2 L2 tables forces constant eviction while 8 tasks read.
        let source = try QCOW2BlockSource(path: dir.file("disk.qcow2"), options: QCOW2Options(l2CacheBytes: 8192))
        try await withThrowingTaskGroup(of: Void.self) { group in
            for task in 0..<8 {
                group.addTask {
                    var random = SeededGenerator(seed: UInt64(task))
                    for _ in 0..<300 {
                        let offset = Int.random(in: 0..<(reference.count - 70000), using: &random)
                        var piece = [UInt8](repeating: 0, count: 65536 + task)
                        try piece.withUnsafeMutableBytes { try source.read(at: Int64(offset), into: $0) }
                        #expect(Bytes.same(piece, reference[offset..<(offset + piece.count)]))
                    }
                }
            }
            try await group.waitForAll()
        }
    }

    @Test("--format auto tells qcow2 from raw and refuses other image formats")
    func formatDetection() throws {
        let dir = try TemporaryDirectory("qcow2")
        try QEMUTools.img("create", "-q", "-f", "qcow2", "a.qcow2", "1M", in: dir.path)
        try QEMUTools.img("create", "-q", "-f", "raw", "b.img", "1M", in: dir.path)
        try QEMUTools.img("create", "-q", "-f", "vmdk", "c.vmdk", "1M", in: dir.path)
        #expect(try ImageFormat.detect(path: dir.file("a.qcow2")) == .qcow2)
        #expect(try ImageFormat.detect(path: dir.file("b.img")) == .raw)
        #expect(try ImageFormat.auto.open(path: dir.file("a.qcow2")) is QCOW2BlockSource)
        #expect(try ImageFormat.auto.open(path: dir.file("b.img")) is RawBlockSource)
        #expect(try ImageFormat.raw.open(path: dir.file("a.qcow2")) is RawBlockSource)
        #expect(throws: VolumeError.self) { try ImageFormat.auto.open(path: dir.file("c.vmdk")) }
        #expect(throws: QCOW2Error.notQCOW2(path: dir.file("b.img"))) { try ImageFormat.qcow2.open(path: dir.file("b.img")) }
    }
}
