import FerryKube
import Foundation

/// The copied and project-written fixtures under Tests/Fixtures/kube.
enum Fixtures {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures/kube")

    static func url(_ path: String) -> URL { root.appendingPathComponent(path) }
    static func bytes(_ path: String) throws -> [UInt8] { Array(try Data(contentsOf: url(path))) }
    static func text(_ path: String) throws -> String { try String(contentsOf: url(path), encoding: .utf8) }
    static func json(_ path: String) throws -> JSONValue { try JSONValue(parsing: try bytes(path)) }
}

/// A temporary directory removed when the value goes away.
final class TemporaryDirectory {
    let path: String

    init() throws {
        path = NSTemporaryDirectory() + "ferry-kube-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    deinit { try? FileManager.default.removeItem(atPath: path) }

    func write(_ name: String, _ text: String, mode: Int = 0o644) throws -> String {
        let file = "\(path)/\(name)"
        try text.write(toFile: file, atomically: true, encoding: .utf8)
        try FileManager.default.setAttributes([.posixPermissions: mode], ofItemAtPath: file)
        return file
    }
}
