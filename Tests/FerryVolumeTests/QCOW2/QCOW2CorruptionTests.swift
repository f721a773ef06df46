import FerryQEMUTestSupport
import FerryTestSupport
import FerryVolume
import Foundation
import Testing

/// Damaged and hostile qcow2 images give a typed error naming the problem: never a crash, a hang
/// or an allocation sized by a corrupt field.
@Suite(.enabled(if: QEMUTools.shouldRun, "qemu-img/qemu-io (Debian qemu-utils) are not installed"))
struct QCOW2CorruptionTests {
    /// A qemu-made image with data in its first L2 table; returns its bytes.
    static func makeImage(_ dir: TemporaryDirectory, options: String = "cluster_size=64k") throws -> [UInt8] {
        try QEMUTools.img("create", "-q", "-f", "qcow2", "-o", options, "disk.qcow2", "8M", in: dir.path)
        try QEMUTools.io("disk.qcow2", ["write -P 0x11 0 64k", "write -P 0x22 1M 128k", "write -z 2M 64k"], in: dir.path)
        return try QCOW2Bytes.load(dir.file("disk.qcow2"))
    }

    /// Opens and reads the whole disk of `bytes` written to a file, returning the error.
    static func failure(_ bytes: [UInt8], _ dir: TemporaryDirectory, name: String = "bad.qcow2") -> (any Error)? {
        let path = dir.file(name)
        do {
            try QCOW2Bytes.save(bytes, path)
            let source = try QCOW2BlockSource(path: path)
            _ = try source.dataRanges(in: 0..<source.size)
            _ = try source.readAll()
            return nil
        } catch {
            return error
        }
    }

    static func header(_ bytes: [UInt8], _ edit: (inout [UInt8]) -> Void) -> [UInt8] {
        var copy = bytes
        edit(&copy)
        return copy
    }

    @Test("header damage is reported by field")
    func headerDamage() throws {
        let dir = try TemporaryDirectory("qcow2-bad")
        let good = try Self.makeImage(dir)
        let path = dir.file("bad.qcow2")
        let cases: [(String, [UInt8], (QCOW2Error) -> Bool)] = [
            (
                "bad magic",
                Self.header(good) {
                    $0[0] = 0x51; $0[3] = 0
                }, { $0 == .notQCOW2(path: path) }
            ),
            ("version 1", Self.header(good) { QCOW2Bytes.put32(&$0, 4, 1) }, { $0 == .unsupportedVersion(path: path, version: 1) }),
            ("version 4", Self.header(good) { QCOW2Bytes.put32(&$0, 4, 4) }, { $0 == .unsupportedVersion(path: path, version: 4) }),
            (
                "cluster_bits 30", Self.header(good) { QCOW2Bytes.put32(&$0, 20, 30) },
                { if case .invalidHeader(_, "cluster_bits", _) = $0 { true } else { false } }
            ),
            (
                "size 2^63", Self.header(good) { QCOW2Bytes.put64(&$0, 24, 1 << 63) },
                { if case .invalidHeader(_, "size", _) = $0 { true } else { false } }
            ),
            (
                "size beyond L1", Self.header(good) { QCOW2Bytes.put64(&$0, 24, 1 << 50) },
                { if case .invalidHeader(_, "l1_size", _) = $0 { true } else { false } }
            ),
            (
                "l1_size 2^31", Self.header(good) { QCOW2Bytes.put32(&$0, 36, 0x8000_0000) },
                { if case .invalidHeader(_, "l1_size", _) = $0 { true } else { false } }
            ),
            (
                "L1 outside file", Self.header(good) { QCOW2Bytes.put64(&$0, 40, 1 << 40) },
                { if case .truncated(_, let what, _, _) = $0 { what.contains("L1") } else { false } }
            ),
            (
                "L1 unaligned", Self.header(good) { QCOW2Bytes.put64(&$0, 40, 0x30008) },
                { if case .invalidHeader(_, "l1_table_offset", _) = $0 { true } else { false } }
            ),
            (
                "header_length 99", Self.header(good) { QCOW2Bytes.put32(&$0, 100, 99) },
                { if case .invalidHeader(_, "header_length", _) = $0 { true } else { false } }
            ),
            (
                "unknown incompatible feature", Self.header(good) { $0[79] |= 0x80 },
                { if case let .unsupportedFeature(_, detail) = $0 { detail.contains("bit 7") } else { false } }
            ),
            (
                "corrupt bit", Self.header(good) { $0[79] |= 0x02 },
                { if case let .unsupportedFeature(_, detail) = $0 { detail.contains("corrupt") } else { false } }
            ),
            (
                "LUKS", Self.header(good) { QCOW2Bytes.put32(&$0, 32, 2) },
                { if case let .unsupportedFeature(_, detail) = $0 { detail.contains("LUKS") } else { false } }
            ),
            (
                "zstd without feature bit", Self.header(good) { $0[104] = 1 },
                { if case .invalidHeader(_, "compression_type", _) = $0 { true } else { false } }
            ),
            (
                "backing name outside cluster",
                Self.header(good) {
                    QCOW2Bytes.put64(&$0, 8, 65530); QCOW2Bytes.put32(&$0, 16, 20)
                },
                { if case .invalidHeader(_, "backing_file_offset", _) = $0 { true } else { false } }
            ),
            ("truncated header", Array(good[0..<50]), { if case .truncated = $0 { true } else { false } }),
            (
                "truncated before L1", Array(good[0..<0x30004]),
                { if case let .truncated(_, what, _, _) = $0 { what.contains("L1") } else { false } }
            ),
        ]
        for (name, bytes, matches) in cases {
            let error = Self.failure(bytes, dir)
            let typed = error as? QCOW2Error
            #expect(typed.map(matches) == true, "\(name): got \(String(describing: error))")
            #expect((typed?.description.contains(path)) == true, "\(name): the message names the image")
        }
    }

    @Test("table damage is reported with the guest offset or table entry")
    func tableDamage() throws {
        let dir = try TemporaryDirectory("qcow2-bad")
        let good = try Self.makeImage(dir)
        let (_, l1Offset, _) = QCOW2Bytes.layout(good)
        let l2Offset = Int(QCOW2Bytes.be64(good, l1Offset) & 0x00FF_FFFF_FFFF_FE00)
        let entry0 = QCOW2Bytes.be64(good, l2Offset)
        let cases: [(String, [UInt8], (QCOW2Error) -> Bool)] = [
            (
                "L1 entry unaligned", Self.header(good) { QCOW2Bytes.put64(&$0, l1Offset, UInt64(l2Offset + 512) | 1 << 63) },
                { if case let .corruptTable(_, "L1 table", detail) = $0 { detail.contains("unaligned") } else { false } }
            ),
            (
                "L1 entry past the end", Self.header(good) { QCOW2Bytes.put64(&$0, l1Offset, 1 << 50) },
                { if case let .corruptTable(_, "L1 table", detail) = $0 { detail.contains("past the end") } else { false } }
            ),
            (
                "L2 entry past the end", Self.header(good) { QCOW2Bytes.put64(&$0, l2Offset, 1 << 63 | 1 << 45) },
                { if case let .corruptTable(_, "L2 table", detail) = $0 { detail.contains("guest offset 0") } else { false } }
            ),
            (
                "L2 entry unaligned", Self.header(good) { QCOW2Bytes.put64(&$0, l2Offset, entry0 + 4096) },
                { if case let .corruptTable(_, "L2 table", detail) = $0 { detail.contains("unaligned") } else { false } }
            ),
            (
                "L2 table cut off", Array(good[0..<(l2Offset + 100)]),
                { if case let .truncated(_, what, _, _) = $0 { what.contains("L2") } else { false } }
            ),
        ]
        for (name, bytes, matches) in cases {
            let error = Self.failure(bytes, dir)
            #expect((error as? QCOW2Error).map(matches) == true, "\(name): got \(String(describing: error))")
        }
    }

    @Test("a damaged compressed cluster", arguments: ["zlib", "zstd"])
    func badCompressedCluster(type: String) throws {
        let dir = try TemporaryDirectory("qcow2-bad")
        _ = try Self.makeImage(dir)
        try QEMUTools.img("convert", "-c", "-O", "qcow2", "-o", "compression_type=\(type)", "disk.qcow2", "packed.qcow2", in: dir.path)
        var bytes = try QCOW2Bytes.load(dir.file("packed.qcow2"))
        let (_, l1Offset, _) = QCOW2Bytes.layout(bytes)
        let l2Offset = Int(QCOW2Bytes.be64(bytes, l1Offset) & 0x00FF_FFFF_FFFF_FE00)
        let entry = QCOW2Bytes.be64(bytes, l2Offset)
        #expect(entry & (1 << 62) != 0, "cluster 0 is compressed")
        let host = Int(entry & ((1 << 54) - 1)) // 64 KiB clusters: 62 - 8 = 54 offset bits
        for i in host..<(host + 64) { bytes[i] = 0 }
        let error = Self.failure(bytes, dir)
        #expect(
            error as? QCOW2Error == nil
                ? false
                : {
                    if case let .badCompressedCluster(_, guestOffset, _) = error as! QCOW2Error { return guestOffset == 0 }
                    return false
                }(), "got \(String(describing: error))")
    }

    @Test("extended L2: a subcluster both allocated and zero")
    func contradictorySubcluster() throws {
        let dir = try TemporaryDirectory("qcow2-bad")
        var bytes = try Self.makeImage(dir, options: "cluster_size=64k,extended_l2=on")
        let (_, l1Offset, _) = QCOW2Bytes.layout(bytes)
        let l2Offset = Int(QCOW2Bytes.be64(bytes, l1Offset) & 0x00FF_FFFF_FFFF_FE00)
        QCOW2Bytes.put64(&bytes, l2Offset + 8, 0x0000_0001_0000_0001)
        let error = Self.failure(bytes, dir)
        #expect(
            {
                if case let .corruptTable(_, _, detail) = error as? QCOW2Error { detail.contains("both allocated and zero") } else { false }
            }(),
            "got \(String(describing: error))")
    }

    @Test("backing chains that loop, go too deep, or name a missing file")
    func badChains() throws {
        let dir = try TemporaryDirectory("qcow2-chain")
        try QEMUTools.img("create", "-q", "-f", "qcow2", "c.qcow2", "1M", in: dir.path)
        try QEMUTools.img("create", "-q", "-f", "qcow2", "-b", "c.qcow2", "-F", "qcow2", "a.qcow2", in: dir.path)
        try QEMUTools.img("create", "-q", "-f", "qcow2", "-b", "a.qcow2", "-F", "qcow2", "b.qcow2", in: dir.path)
        func renameBacking(of image: String, to name: String) throws {
            var bytes = try QCOW2Bytes.load(dir.file(image))
            let offset = Int(QCOW2Bytes.be64(bytes, 8)), size = Int(QCOW2Bytes.be32(bytes, 16))
            precondition(name.utf8.count == size)
            bytes.replaceSubrange(offset..<(offset + size), with: Array(name.utf8))
            try QCOW2Bytes.save(bytes, dir.file(image))
        }
        // Depth: b -> a -> c is three images.
        #expect(throws: QCOW2Error.backingChainTooDeep(path: dir.file("c.qcow2"), limit: 2)) {
            try QCOW2BlockSource(path: dir.file("b.qcow2"), options: QCOW2Options(maxChainDepth: 2))
        }
        #expect(try QCOW2BlockSource(path: dir.file("b.qcow2"), options: QCOW2Options(maxChainDepth: 3)).chain.count == 3)
        // Missing: a names x.qcow2.
        try renameBacking(of: "a.qcow2", to: "x.qcow2")
        #expect {
            try QCOW2BlockSource(path: dir.file("b.qcow2"))
        } throws: { error in
            if case let .missingFile(_, "backing file", file, _) = error as? QCOW2Error { return file == dir.file("x.qcow2") }
            return false
        }
        // Loop: a names b, which names a.
        try renameBacking(of: "a.qcow2", to: "b.qcow2")
        #expect(throws: QCOW2Error.backingChainLoop(path: dir.file("a.qcow2"), repeated: dir.file("b.qcow2"))) {
            try QCOW2BlockSource(path: dir.file("b.qcow2"))
        }
        // Self loop.
        try renameBacking(of: "a.qcow2", to: "a.qcow2")
        #expect(throws: QCOW2Error.backingChainLoop(path: dir.file("a.qcow2"), repeated: dir.file("a.qcow2"))) {
            try QCOW2BlockSource(path: dir.file("a.qcow2"))
        }
    }

    @Test("a missing external data file")
    func missingDataFile() throws {
        let dir = try TemporaryDirectory("qcow2-bad")
        try QEMUTools.img("create", "-q", "-f", "raw", "disk.img", "1M", in: dir.path)
        try QEMUTools.img("create", "-q", "-f", "qcow2", "-o", "data_file=disk.img,data_file_raw=on", "overlay.qcow2", "1M", in: dir.path)
        try FileManager.default.removeItem(atPath: dir.file("disk.img"))
        #expect {
            try QCOW2BlockSource(path: dir.file("overlay.qcow2"))
        } throws: { error in
            if case let .missingFile(_, "data file", file, _) = error as? QCOW2Error { return file == dir.file("disk.img") }
            return false
        }
    }
}
