import Foundation
import Testing

/// What the machine running the tests offers, and the rule for what is missing: outside CI a
/// test that needs it is skipped with the reason printed; in CI (`CI=true`) it fails.
public enum TestEnvironment {
    public static var isCI: Bool {
        ProcessInfo.processInfo.environment["CI"] == "true"
    }

    public static var isRoot: Bool { getuid() == 0 }

    /// The path of `tool` on PATH, or nil.
    public static func which(_ tool: String) -> String? {
        let paths =
            (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin").split(separator: ":").map(String.init) + [
                "/usr/sbin", "/sbin",
            ]
        for directory in paths {
            let candidate = "\(directory)/\(tool)"
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
        return nil
    }

    /// Skips (or in CI fails) the current test unless `condition` holds.
    public static func require(_ condition: Bool, _ reason: String, sourceLocation: SourceLocation = #_sourceLocation) throws {
        guard !condition else { return }
        if isCI {
            Issue.record("required in CI: \(reason)", sourceLocation: sourceLocation)
            throw Missing(reason: reason)
        }
        print("skipped: \(reason)")
        try Test.cancel(Comment(rawValue: reason), sourceLocation: sourceLocation)
    }

    /// Skips (or in CI fails) unless the tests run as root.
    public static func requireRoot(_ purpose: String, sourceLocation: SourceLocation = #_sourceLocation) throws {
        try require(isRoot, "\(purpose) needs root", sourceLocation: sourceLocation)
    }

    /// Skips (or in CI fails) unless `tool` is installed; returns its path.
    @discardableResult
    public static func requireTool(_ tool: String, sourceLocation: SourceLocation = #_sourceLocation) throws -> String {
        let path = which(tool)
        try require(path != nil, "\(tool) is not installed (scripts/test.sh installs it)", sourceLocation: sourceLocation)
        return path!
    }

    struct Missing: Error, CustomStringConvertible {
        var reason: String
        var description: String { "missing: \(reason)" }
    }
}
