import Foundation

/// A fresh directory under the system temp dir, removed when the value is released by `remove()`.
public struct TemporaryDirectory: Sendable {
    public let path: String

    public init(_ label: String = "ferry-test") throws {
        let base = ProcessInfo.processInfo.environment["FERRY_TEST_TMPDIR"] ?? NSTemporaryDirectory()
        path = (base as NSString).appendingPathComponent("\(label)-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    public func file(_ name: String) -> String {
        (path as NSString).appendingPathComponent(name)
    }

    public func remove() {
        try? FileManager.default.removeItem(atPath: path)
    }
}
