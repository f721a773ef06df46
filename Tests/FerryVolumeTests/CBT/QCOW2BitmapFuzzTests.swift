import FerryQEMUTestSupport
import FerryTestSupport
import Foundation
import Testing

@testable import FerryVolume

/// Seeded mutations of the bitmaps extension, bitmap directory and bitmap tables: the tracker
/// either reports changes or says why it cannot; it never crashes or throws something untyped.
@Suite(.enabled(if: QEMUTools.shouldRun, "qemu-img/qemu-io (Debian qemu-utils) are not installed"))
struct QCOW2BitmapFuzzTests {
    @Test("mutated bitmap metadata fails cleanly")
    func mutations() async throws {
        let dir = try TemporaryDirectory("cbt-fuzz")
        try QEMUTools.img("create", "-q", "-f", "qcow2", "disk.qcow2", "64M", in: dir.path)
        try QEMUTools.img("bitmap", "--add", "-g", "4096", "disk.qcow2", "b1", in: dir.path)
        try QEMUTools.img("bitmap", "--add", "disk.qcow2", "b2", in: dir.path)
        try QEMUTools.io("disk.qcow2", ["write -P 1 0 1M", "write -P 2 20M 3M", "write -P 3 63M 4k"], in: dir.path)
        let original = [UInt8](try Data(contentsOf: URL(fileURLWithPath: dir.file("disk.qcow2"))))
        let source = try QCOW2BlockSource(path: dir.file("disk.qcow2"))
        let parent = try #require(try await QCOW2BitmapTracker(source: source, bitmapName: "b1").currentBookmark())
        let ext = try #require(source.header.bitmaps)
        var regions = [0..<512, Int(ext.directoryOffset)..<(Int(ext.directoryOffset) + ext.directorySize)]
        for bitmap in try source.bitmaps() {
            regions.append(Int(bitmap.tableOffset)..<(Int(bitmap.tableOffset) + bitmap.tableSize * 8))
        }

        var random = SeededGenerator(seed: 0xB17)
        var usable = 0, refused = 0
        for iteration in 0..<300 {
            var mutant = original
            for _ in 0..<Int.random(in: 1...4, using: &random) {
                let at = Int.random(in: regions.randomElement(using: &random)!, using: &random)
                mutant[at] = Int.random(in: 0..<2, using: &random) == 0 ? UInt8.random(in: 0...255, using: &random) : mutant[at] ^ 0x80
            }
            let path = dir.file("mutant.qcow2")
            try Data(mutant).write(to: URL(fileURLWithPath: path))
            do {
                let tracker = QCOW2BitmapTracker(source: try QCOW2BlockSource(path: path), bitmapName: "b1")
                switch try await tracker.changes(since: parent, size: 64 << 20) {
                case .changed: usable += 1
                case .unusable: refused += 1
                }
                _ = try await tracker.currentBookmark()
            } catch is QCOW2Error {
                refused += 1
            } catch is VolumeError {
                refused += 1
            } catch {
                Issue.record("iteration \(iteration): untyped error \(error)")
            }
        }
        #expect(usable + refused == 300)
        #expect(refused > 0)
    }
}
