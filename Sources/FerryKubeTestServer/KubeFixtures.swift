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
