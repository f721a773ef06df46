import Foundation

/// A fresh directory under the system temp dir (`FERRY_TEST_TMPDIR` if set), removed with
/// everything in it by `remove()` or, at the latest, when the last reference to it goes.
public final class TemporaryDirectory: Sendable {
    public let path: String

    /// - Parameter removeAtExit: also remove it when the test process ends, for directories held
    ///   by values that live as long as the process (static test fixtures are never released).
    public init(_ label: String = "ferry-test", removeAtExit: Bool = false) throws {
        let base = ProcessInfo.processInfo.environment["FERRY_TEST_TMPDIR"] ?? NSTemporaryDirectory()
        path = (base as NSString).appendingPathComponent("\(label)-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        if removeAtExit {
            let watchdog = Process()
            watchdog.executableURL = URL(fileURLWithPath: "/bin/sh")
            watchdog.arguments = ["-c", "while kill -0 \(getpid()) 2>/dev/null; do sleep 1; done; rm -rf '\(path)'"]
            watchdog.standardOutput = FileHandle.nullDevice
            watchdog.standardError = FileHandle.nullDevice
            try? watchdog.run()
        }
    }

    /// Writes a file in the directory and returns its path.
    @discardableResult
    public func write(_ name: String, _ text: String, mode: Int = 0o644) throws -> String {
        let file = file(name)
        try text.write(toFile: file, atomically: true, encoding: .utf8)
        try FileManager.default.setAttributes([.posixPermissions: mode], ofItemAtPath: file)
        return file
    }

    deinit { remove() }

    /// `name` inside the directory.
    public func file(_ name: String) -> String {
        (path as NSString).appendingPathComponent(name)
    }

    public func remove() {
        try? FileManager.default.removeItem(atPath: path)
    }
}
