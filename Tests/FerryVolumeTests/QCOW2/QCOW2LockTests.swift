import FerryQEMUTestSupport
import FerryTestSupport
import FerryVolume
import Testing

/// A qcow2 image (or its data file) that a running QEMU holds for writing is not a point-in-time
/// source: it is refused unless forced. QEMU's own locks tell, taken by a real qemu-io process.
@Suite(.serialized, .enabled(if: QEMUTools.shouldRun, "qemu-img/qemu-io (Debian qemu-utils) are not installed"))
struct QCOW2LockTests {
    @Test("an image open read-write in QEMU is refused, and read with force")
    func heldForWriting() throws {
        let dir = try TemporaryDirectory("qcow2-lock")
        try QEMUTools.img("create", "-q", "-f", "qcow2", "disk.qcow2", "4M", in: dir.path)
        #expect(try QCOW2BlockSource(path: dir.file("disk.qcow2")).lockState == .free)
        let holder = try QEMUHolder("disk.qcow2", in: dir.path)
        defer { holder.release() }
        #expect {
            try QCOW2BlockSource(path: dir.file("disk.qcow2"))
        } throws: { error in
            guard case let .busy(path, detail) = error as? VolumeError else { return false }
            return path == dir.file("disk.qcow2") && detail.contains("QEMU")
        }
        #expect(throws: VolumeError.self) { try ImageFormat.auto.open(path: dir.file("disk.qcow2")) }
        let forced = try ImageFormat.auto.open(path: dir.file("disk.qcow2"), force: true) as? QCOW2BlockSource
        #expect(forced?.lockState == .writer)
    }

    @Test("an image QEMU only reads is accepted")
    func heldForReading() throws {
        let dir = try TemporaryDirectory("qcow2-lock")
        try QEMUTools.img("create", "-q", "-f", "qcow2", "disk.qcow2", "4M", in: dir.path)
        let holder = try QEMUHolder("disk.qcow2", readOnly: true, in: dir.path)
        defer { holder.release() }
        #expect(try QCOW2BlockSource(path: dir.file("disk.qcow2")).lockState == .reader)
    }

    @Test("a data file held for writing through its overlay is refused")
    func dataFileHeld() throws {
        let dir = try TemporaryDirectory("qcow2-lock")
        try QEMUTools.img("create", "-q", "-f", "raw", "disk.img", "4M", in: dir.path)
        try QEMUTools.img("create", "-q", "-f", "qcow2", "-o", "data_file=disk.img,data_file_raw=on", "overlay.qcow2", "4M", in: dir.path)
        let holder = try QEMUHolder("overlay.qcow2", in: dir.path)
        defer { holder.release() }
        #expect(throws: VolumeError.self) { try QCOW2BlockSource(path: dir.file("overlay.qcow2")) }
        let forced = try QCOW2BlockSource(path: dir.file("overlay.qcow2"), options: QCOW2Options(force: true))
        #expect(forced.dataFileLockState == .writer)
        holder.release()
        let after = try QCOW2BlockSource(path: dir.file("overlay.qcow2"))
        #expect(after.lockState == .free && after.dataFileLockState == .free)
    }
}
