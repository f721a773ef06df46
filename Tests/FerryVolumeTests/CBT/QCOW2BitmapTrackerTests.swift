import FerryQEMUTestSupport
import FerryTestSupport
import Foundation
import Testing

@testable import FerryVolume

/// The qcow2 bitmap provider against bitmaps QEMU itself maintains: qemu-io writes through images
/// with enabled persistent bitmaps, qemu-img bitmap adds, disables and clears them.
@Suite(.serialized, .enabled(if: QEMUTools.shouldRun, "qemu-img/qemu-io (Debian qemu-utils) are not installed"))
struct QCOW2BitmapTrackerTests {
    /// The byte ranges `writes` (offset, length) dirty at `granularity`.
    static func expected(_ writes: [(Int64, Int64)], granularity: Int64 = 65536, size: Int64) -> [Range<Int64>] {
        BlockRangeList(writes.map { $0.0..<($0.0 + $0.1) }).widened(toBlockSize: granularity, size: size).ranges
    }

    static func writeCommands(_ writes: [(Int64, Int64)], pattern: Int = 0x5A) -> [String] {
        writes.map { "write -P \(pattern) \($0.0) \($0.1)" }
    }

    static func tracker(_ path: String, _ name: String = "b1", force: Bool = false) throws -> QCOW2BitmapTracker {
        QCOW2BitmapTracker(source: try QCOW2BlockSource(path: path, options: QCOW2Options(force: force)), bitmapName: name)
    }

    static func reason(_ changes: CBTChanges) -> String? {
        if case let .unusable(reason) = changes { return reason }
        return nil
    }

    @Test("a bitmap on a plain image reports exactly the written granules", arguments: [512, 65536, 1 << 20])
    func plainImage(granularity: Int) async throws {
        let dir = try TemporaryDirectory("cbt")
        let size: Int64 = 64 << 20
        try QEMUTools.img("create", "-q", "-f", "qcow2", "disk.qcow2", "64M", in: dir.path)
        try QEMUTools.io("disk.qcow2", ["write -P 1 0 8M"], in: dir.path)
        try QEMUTools.img("bitmap", "--add", "-g", "\(granularity)", "disk.qcow2", "b1", in: dir.path)
        let parent = try await #require(try Self.tracker(dir.file("disk.qcow2")).currentBookmark())
        #expect(parent["enabled"] == "true" && parent["consistent"] == "true" && parent["dirtyBytes"] == "0")

        let writes: [(Int64, Int64)] = [(4096, 512), (1 << 20, 3 << 20), (33 << 20 + 100, 70000), (size - 512, 512)]
        try QEMUTools.io("disk.qcow2", Self.writeCommands(writes), in: dir.path)
        let changes = try await Self.tracker(dir.file("disk.qcow2")).changes(since: parent, size: size)
        #expect(changes == .changed(Self.expected(writes, granularity: Int64(granularity), size: size)))
    }

    @Test("a KubeVirt-style overlay: bitmap in the qcow2, guest data in a raw data file")
    func dataFileOverlay() async throws {
        let dir = try TemporaryDirectory("cbt")
        let size: Int64 = 64 << 20
        try QEMUTools.img("create", "-q", "-f", "raw", "disk.img", "64M", in: dir.path)
        try QEMUTools.img("create", "-q", "-f", "qcow2", "-o", "data_file=disk.img,data_file_raw=on", "disk.qcow2", "64M", in: dir.path)
        try QEMUTools.img("bitmap", "--add", "disk.qcow2", "kubevirt", in: dir.path)
        let parent = try await #require(try Self.tracker(dir.file("disk.qcow2"), "kubevirt").currentBookmark())
        let writes: [(Int64, Int64)] = [(0, 4096), (10 << 20, 1 << 20), (50 << 20 + 7, 9)]
        try QEMUTools.io("disk.qcow2", Self.writeCommands(writes), in: dir.path)
        let tracker = try Self.tracker(dir.file("disk.qcow2"), "kubevirt")
        #expect(try await tracker.changes(since: parent, size: size) == .changed(Self.expected(writes, size: size)))

        // A write straight to the data file, behind the overlay's back: the bitmap is refused.
        // (Once the filesystem clock has moved past the overlay's last store: within one
        // timestamp tick the two cannot be ordered, and the sample check is the guard.)
        try FileClock.waitUntilAfter(dir.file("disk.qcow2"), probe: dir.file("clock"))
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: dir.file("disk.img")))
        try handle.seek(toOffset: 40 << 20)
        handle.write(Data(repeating: 0xEE, count: 4096))
        try handle.close()
        let refused = try await Self.tracker(dir.file("disk.qcow2"), "kubevirt").changes(since: parent, size: size)
        #expect(Self.reason(refused)?.contains("bypassed QEMU") == true, "\(refused)")
    }

    @Test("same-named bitmaps are combined across a backing chain; a layer without one is refused")
    func backingChain() async throws {
        let dir = try TemporaryDirectory("cbt")
        let size: Int64 = 32 << 20
        try QEMUTools.img("create", "-q", "-f", "qcow2", "base.qcow2", "32M", in: dir.path)
        try QEMUTools.img("bitmap", "--add", "base.qcow2", "b1", in: dir.path)
        let parent = try await #require(try Self.tracker(dir.file("base.qcow2")).currentBookmark())
        let baseWrites: [(Int64, Int64)] = [(1 << 20, 64 << 10), (20 << 20, 5000)]
        try QEMUTools.io("base.qcow2", Self.writeCommands(baseWrites), in: dir.path)
        try QEMUTools.img("create", "-q", "-f", "qcow2", "-b", "base.qcow2", "-F", "qcow2", "top.qcow2", in: dir.path)
        // Without the bitmap in the new top layer, its writes would go untracked.
        let missing = try await Self.tracker(dir.file("top.qcow2")).changes(since: parent, size: size)
        #expect(Self.reason(missing)?.contains("has no bitmap \"b1\"") == true, "\(missing)")

        try QEMUTools.img("bitmap", "--add", "top.qcow2", "b1", in: dir.path)
        let topWrites: [(Int64, Int64)] = [(3 << 20, 4096), (30 << 20, 2 << 20)]
        try QEMUTools.io("top.qcow2", Self.writeCommands(topWrites), in: dir.path)
        let tracker = try Self.tracker(dir.file("top.qcow2"))
        #expect(try await tracker.changes(since: parent, size: size) == .changed(Self.expected(baseWrites + topWrites, size: size)))
        #expect(try await tracker.currentBookmark()?["layers"] == "2")
    }

    @Test("a disabled bitmap is refused, now and as the parent's record")
    func disabled() async throws {
        let dir = try TemporaryDirectory("cbt")
        try QEMUTools.img("create", "-q", "-f", "qcow2", "disk.qcow2", "16M", in: dir.path)
        try QEMUTools.img("bitmap", "--add", "disk.qcow2", "b1", in: dir.path)
        let parent = try await #require(try Self.tracker(dir.file("disk.qcow2")).currentBookmark())
        try QEMUTools.img("bitmap", "--disable", "disk.qcow2", "b1", in: dir.path)
        try QEMUTools.io("disk.qcow2", ["write -P 3 1M 4k"], in: dir.path)
        let tracker = try Self.tracker(dir.file("disk.qcow2"))
        let now = try await tracker.changes(since: parent, size: 16 << 20)
        #expect(Self.reason(now)?.contains("disabled") == true, "\(now)")
        let bookmark = try #require(try await tracker.currentBookmark())
        #expect(bookmark["enabled"] == "false")
        // Re-enabling does not make the writes made meanwhile visible: the next backup refuses.
        try QEMUTools.img("bitmap", "--enable", "disk.qcow2", "b1", in: dir.path)
        let next = try await Self.tracker(dir.file("disk.qcow2")).changes(since: bookmark, size: 16 << 20)
        #expect(Self.reason(next)?.contains("disabled or missing when the parent") == true, "\(next)")
    }

    @Test("a bitmap cleared since the parent is refused")
    func cleared() async throws {
        let dir = try TemporaryDirectory("cbt")
        try QEMUTools.img("create", "-q", "-f", "qcow2", "disk.qcow2", "16M", in: dir.path)
        try QEMUTools.img("bitmap", "--add", "disk.qcow2", "b1", in: dir.path)
        try QEMUTools.io("disk.qcow2", ["write -P 1 0 1M", "write -P 1 8M 64k"], in: dir.path)
        let parent = try await #require(try Self.tracker(dir.file("disk.qcow2")).currentBookmark())
        #expect(parent["dirtyBytes"] == String(1 << 20 + 65536))
        try QEMUTools.img("bitmap", "--clear", "disk.qcow2", "b1", in: dir.path)
        try QEMUTools.io("disk.qcow2", ["write -P 2 4M 128k"], in: dir.path)
        let fewer = try await Self.tracker(dir.file("disk.qcow2")).changes(since: parent, size: 16 << 20)
        #expect(Self.reason(fewer)?.contains("cleared or recreated") == true, "\(fewer)")
        // More dirty bytes than before, but not the ones the parent saw: the witnesses tell.
        try QEMUTools.io("disk.qcow2", ["write -P 2 10M 2M"], in: dir.path)
        let moved = try await Self.tracker(dir.file("disk.qcow2")).changes(since: parent, size: 16 << 20)
        #expect(Self.reason(moved)?.contains("no longer marks offset") == true, "\(moved)")
    }

    @Test("in_use after a crash means fall back; in_use under a running QEMU means in use")
    func inUse() async throws {
        let dir = try TemporaryDirectory("cbt")
        try QEMUTools.img("create", "-q", "-f", "qcow2", "disk.qcow2", "16M", in: dir.path)
        try QEMUTools.img("bitmap", "--add", "disk.qcow2", "b1", in: dir.path)
        let parent = try await #require(try Self.tracker(dir.file("disk.qcow2")).currentBookmark())

        let running = try QEMUHolder("disk.qcow2", in: dir.path)
        try running.command("write -P 7 1M 64k", until: "wrote")
        let held = try await Self.tracker(dir.file("disk.qcow2"), force: true).changes(since: parent, size: 16 << 20)
        #expect(Self.reason(held)?.contains("in use by a running QEMU") == true, "\(held)")
        running.crash()

        let tracker = try Self.tracker(dir.file("disk.qcow2"))
        #expect(tracker.source.lockState == .free)
        let crashed = try await tracker.changes(since: parent, size: 16 << 20)
        #expect(Self.reason(crashed)?.contains("not closed cleanly") == true, "\(crashed)")
        #expect(try await tracker.currentBookmark()?["consistent"] == "false")
    }

    @Test("bookmarks from elsewhere and inconsistent extensions are refused")
    func foreignBookmarks() async throws {
        let dir = try TemporaryDirectory("cbt")
        try QEMUTools.img("create", "-q", "-f", "qcow2", "disk.qcow2", "16M", in: dir.path)
        try QEMUTools.img("bitmap", "--add", "disk.qcow2", "b1", in: dir.path)
        let tracker = try Self.tracker(dir.file("disk.qcow2"))
        let parent = try #require(try await tracker.currentBookmark())
        for bookmark in [
            CBTBookmark(provider: "csi", fields: ["snapshotHandle": "x"]),
            CBTBookmark(provider: "qcow2-bitmap", fields: ["bitmap": "other", "enabled": "true", "consistent": "true"]),
            CBTBookmark(provider: "qcow2-bitmap", fields: ["bitmap": "b1", "enabled": "true"]),
        ] {
            #expect(Self.reason(try await tracker.changes(since: bookmark, size: 16 << 20)) != nil, "\(bookmark)")
        }
        #expect(try await tracker.changes(since: parent, size: 16 << 20) == .changed([]))

        // An older QEMU that opened the image read-write would clear the autoclear bit.
        var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: dir.file("disk.qcow2"))))
        bytes[95] &= ~1
        try Data(bytes).write(to: URL(fileURLWithPath: dir.file("disk.qcow2")))
        let stale = try await Self.tracker(dir.file("disk.qcow2")).changes(since: parent, size: 16 << 20)
        #expect(Self.reason(stale)?.contains("autoclear") == true, "\(stale)")
    }

    @Test("choosing the bitmap: named, the parent's, or the only enabled one")
    func choose() async throws {
        let dir = try TemporaryDirectory("cbt")
        try QEMUTools.img("create", "-q", "-f", "qcow2", "disk.qcow2", "16M", in: dir.path)
        let source = try QCOW2BlockSource(path: dir.file("disk.qcow2"))
        #expect(throws: VolumeError.self) { try QCOW2BitmapTracker.choose(source: source, name: nil, parent: nil) }
        try QEMUTools.img("bitmap", "--add", "disk.qcow2", "daily", in: dir.path)
        try QEMUTools.img("bitmap", "--add", "--disable", "disk.qcow2", "old", in: dir.path)
        let reopened = try QCOW2BlockSource(path: dir.file("disk.qcow2"))
        #expect(try QCOW2BitmapTracker.choose(source: reopened, name: nil, parent: nil).bitmapName == "daily")
        #expect(try QCOW2BitmapTracker.choose(source: reopened, name: "old", parent: nil).bitmapName == "old")
        let parent = CBTBookmark(provider: "qcow2-bitmap", fields: ["bitmap": "old"])
        #expect(try QCOW2BitmapTracker.choose(source: reopened, name: nil, parent: parent).bitmapName == "old")
        try QEMUTools.img("bitmap", "--add", "disk.qcow2", "weekly", in: dir.path)
        #expect(throws: VolumeError.self) {
            try QCOW2BitmapTracker.choose(source: try QCOW2BlockSource(path: dir.file("disk.qcow2")), name: nil, parent: nil)
        }
        #expect(try reopened.bitmaps().map(\.name) == ["daily", "old"])
    }
}
