import Foundation
import Synchronization

/// A real loop block device over an image file (`losetup`, as root), detached by `detach()` or
/// when it is released, whichever comes first.
public final class LoopDevice: Sendable {
    public let path: String
    private let attached = Mutex(true)

    /// Whether this process may create loop devices (root, losetup, /dev/loop-control).
    public static var available: Bool {
        getuid() == 0 && FileManager.default.fileExists(atPath: "/dev/loop-control") && TestEnvironment.which("losetup") != nil
    }

    /// Tests that need loop devices run where they are available, and always in CI (where
    /// their absence is a failure).
    public static var shouldRun: Bool { available || TestEnvironment.isCI }

    public init(backing file: String, readOnly: Bool = false) throws {
        path = try ChildProcess.run(["losetup", "--find", "--show"] + (readOnly ? ["--read-only"] : []) + [file])
            .trimmingCharacters(in: .whitespacesAndNewlines)
    }

    public func detach() {
        guard
            attached.withLock({ attached in
                defer { attached = false }; return attached
            })
        else { return }
        _ = try? ChildProcess.run(["losetup", "--detach", path])
    }

    deinit { detach() }
}
