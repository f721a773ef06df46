import Foundation

/// Loop devices attached to backing files with `losetup`, remembered so that exactly those are
/// detached again.
public actor LoopDevices {
    private var attached: [String: String] = [:]

    public init() {}

    /// The device `losetup --find --show` attached to `file`.
    func attach(_ file: String) throws -> String {
        let device = try Self.losetup(["--find", "--show", file]).trimmingCharacters(in: .whitespacesAndNewlines)
        attached[device] = file
        return device
    }

    public func detachAll() {
        for device in attached.keys.sorted() { _ = try? Self.losetup(["--detach", device]) }
        attached = [:]
    }

    static func losetup(_ arguments: [String]) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/sbin/losetup")
        if !FileManager.default.isExecutableFile(atPath: process.executableURL!.path) {
            process.executableURL = URL(fileURLWithPath: "/sbin/losetup")
        }
        process.arguments = arguments
        let output = Pipe()
        let errors = Pipe()
        process.standardOutput = output
        process.standardError = errors
        try process.run()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        let message = errors.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw LoopDeviceError(arguments: arguments, message: String(decoding: message, as: UTF8.self))
        }
        return String(decoding: data, as: UTF8.self)
    }
}

struct LoopDeviceError: Error, CustomStringConvertible {
    var arguments: [String]
    var message: String
    var description: String {
        "losetup \(arguments.joined(separator: " ")) failed: \(message.trimmingCharacters(in: .whitespacesAndNewlines))"
    }
}
