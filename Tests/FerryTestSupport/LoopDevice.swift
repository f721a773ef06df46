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
        path = try Shell.run(["losetup", "--find", "--show"] + (readOnly ? ["--read-only"] : []) + [file])
            .trimmingCharacters(in: .whitespacesAndNewlines)
    }

    public func detach() {
        guard attached.withLock({ attached in defer { attached = false }; return attached }) else { return }
        _ = try? Shell.run(["losetup", "--detach", path])
    }

    deinit { detach() }
}

/// Running helper commands (mkfs, mount, losetup, qemu-img ...) from tests.
public enum Shell {
    public struct Failed: Error, CustomStringConvertible {
        public var command: [String]
        public var status: Int32
        public var output: String
        public var description: String { "\(command.joined(separator: " ")) exited \(status): \(output)" }
    }

    /// Runs a command and returns its stdout; throws with its output when it fails.
    @discardableResult
    public static func run(_ command: [String]) throws -> String {
        // Output to a file, not a pipe: a long-lived child started meanwhile by another test
        // would inherit the pipe and keep its end from coming.
        let directory = try TemporaryDirectory("ferry-shell")
        let path = directory.file("output")
        _ = FileManager.default.createFile(atPath: path, contents: nil)
        let out = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = command
        process.standardOutput = out
        process.standardError = out
        process.standardInput = FileHandle.nullDevice
        do {
            try process.run()
        } catch {
            try? out.close()
            throw error
        }
        try? out.close()
        process.waitUntilExit()
        let text = String(decoding: (try? Data(contentsOf: URL(fileURLWithPath: path))) ?? Data(), as: UTF8.self)
        guard process.terminationStatus == 0 else { throw Failed(command: command, status: process.terminationStatus, output: text) }
        return text
    }
}
