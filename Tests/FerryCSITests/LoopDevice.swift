import FerryQEMUTestSupport
import Foundation

/// A read-only loop device over an image file (losetup, as root), detached on release: the
/// "snapshots" the SnapshotMetadata test server diffs.
final class LoopDevice: @unchecked Sendable {
    let path: String

    /// Whether this process may create loop devices (root, losetup, /dev/loop-control).
    static var available: Bool {
        getuid() == 0 && FileManager.default.fileExists(atPath: "/dev/loop-control")
            && ["/usr/sbin/losetup", "/sbin/losetup"].contains { FileManager.default.isExecutableFile(atPath: $0) }
    }

    static var shouldRun: Bool { available || ProcessInfo.processInfo.environment["CI"] == "true" }

    init(file: String) throws {
        path = try QEMUTools.run("losetup", ["--find", "--show", "--read-only", file]).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    deinit { _ = try? QEMUTools.run("losetup", ["--detach", path]) }
}
