import FerryKube
import Foundation

/// The recorded and project-written Kubernetes fixtures under `Tests/Fixtures/kube` (see its
/// SOURCES.md), for the test targets that exercise the client, the test server and discovery.
public enum KubeFixtures {
    public static let root = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Tests/Fixtures/kube")

    public static func url(_ path: String) -> URL { root.appendingPathComponent(path) }
    public static func bytes(_ path: String) throws -> [UInt8] { Array(try Data(contentsOf: url(path))) }
    public static func text(_ path: String) throws -> String { try String(contentsOf: url(path), encoding: .utf8) }
    public static func json(_ path: String) throws -> JSONValue { try JSONValue(parsing: try bytes(path)) }
}

/// A temporary directory removed when the value goes away.
public final class KubeScratchDirectory {
    public let path: String

    public init() throws {
        path = NSTemporaryDirectory() + "ferry-kube-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    deinit { try? FileManager.default.removeItem(atPath: path) }

    /// Writes a file in the directory and returns its path.
    public func write(_ name: String, _ text: String, mode: Int = 0o644) throws -> String {
        let file = "\(path)/\(name)"
        try text.write(toFile: file, atomically: true, encoding: .utf8)
        try FileManager.default.setAttributes([.posixPermissions: mode], ofItemAtPath: file)
        return file
    }
}
