import Foundation

/// A real loop block device over an image file (`losetup`), detached by `detach()`.
public struct LoopDevice: Sendable {
    public let path: String

    public init(backing file: String) throws {
        path = try Shell.run(["losetup", "--find", "--show", file]).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    public func detach() {
        _ = try? Shell.run(["losetup", "-d", path])
    }
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
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = command
        let out = Pipe()
        process.standardOutput = out
        process.standardError = out
        process.standardInput = FileHandle.nullDevice
        try process.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        let text = String(decoding: data, as: UTF8.self)
        guard process.terminationStatus == 0 else { throw Failed(command: command, status: process.terminationStatus, output: text) }
        return text
    }
}
