import Foundation

/// A fresh directory under the system temp dir (`FERRY_TEST_TMPDIR` if set), removed with
/// everything in it by `remove()` or, at the latest, when the last reference to it goes.
public final class TemporaryDirectory: Sendable {
    public let path: String

    public init(_ label: String = "ferry-test") throws {
        let base = ProcessInfo.processInfo.environment["FERRY_TEST_TMPDIR"] ?? NSTemporaryDirectory()
        path = (base as NSString).appendingPathComponent("\(label)-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
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
