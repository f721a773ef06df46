import Foundation
import Testing

/// A running `ferry mount`: started through the real binary, ready once the kernel lists its
/// mount point, ended by a signal like a user would.
public struct MountedFerry: Sendable {
    public let process: ChildProcess
    public let mountpoint: String

    /// Skips (or in CI fails) unless FUSE mounts can be made here (root and /dev/fuse).
    public static func requireFUSE(sourceLocation: SourceLocation = #_sourceLocation) throws {
        try TestEnvironment.requireRoot("mounting FUSE file systems", sourceLocation: sourceLocation)
        let device = FileManager.default.fileExists(atPath: "/dev/fuse")
        try TestEnvironment.require(device, "/dev/fuse is missing (modprobe fuse)", sourceLocation: sourceLocation)
    }

    /// Whether the kernel has a mount at `path`.
    public static func isMounted(_ path: String) -> Bool {
        guard let table = try? String(contentsOfFile: "/proc/self/mountinfo", encoding: .utf8) else { return false }
        return table.split(separator: "\n").contains { line in
            let fields = line.split(separator: " ")
            return fields.count > 4 && fields[4] == path
        }
    }

    /// Runs `ferry mount args… mountpoint` and waits until the mount is there (or the process ended).
    public static func start(_ ferry: FerryProcess, _ args: [String], at mountpoint: String) async throws -> MountedFerry {
        try FileManager.default.createDirectory(atPath: mountpoint, withIntermediateDirectories: true)
        let process = try ferry.start(["mount"] + args)
        let deadline = Date().addingTimeInterval(120)
        while !isMounted(mountpoint) {
            guard process.process.isRunning, Date() < deadline else {
                process.kill()
                let result = await process.wait()
                Issue.record("ferry mount did not mount \(mountpoint): \(result)")
                throw ChildProcess.Failed(command: ["ferry"] + args, result: result)
            }
            try await Task.sleep(for: .milliseconds(20))
        }
        return MountedFerry(process: process, mountpoint: mountpoint)
    }

    public func path(_ relative: String) -> String { mountpoint + "/" + relative }

    /// Sends `signal` and waits for the process to end; one that has not ended after a minute
    /// is a failure (and is killed), not a hang of the test run.
    public func stop(_ signal: Int32 = SIGTERM, sourceLocation: SourceLocation = #_sourceLocation) async -> ChildProcess.Result {
        process.kill(signal)
        let deadline = Date().addingTimeInterval(60)
        while process.process.isRunning && Date() < deadline {
            try? await Task.sleep(for: .milliseconds(20))
        }
        if process.process.isRunning {
            Issue.record("ferry mount did not end within a minute of signal \(signal)", sourceLocation: sourceLocation)
            process.kill(SIGKILL)
        }
        return await process.wait()
    }

    /// Ends the mount whatever state a failed test left it in.
    public func cleanUp() async {
        if process.process.isRunning { _ = await stop(SIGKILL) }
        if Self.isMounted(mountpoint) { _ = try? ChildProcess.run(["umount", "-l", mountpoint]) }
    }
}
