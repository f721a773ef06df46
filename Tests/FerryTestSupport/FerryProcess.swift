import Foundation

/// Runs the real `ferry` executable built next to the tests, as a user would.
public struct FerryProcess: Sendable {
    /// The `ferry` binary: FERRY_BIN, or the one in the build directory holding this test bundle.
    public static var binary: String {
        if let path = ProcessInfo.processInfo.environment["FERRY_BIN"] { return path }
        var directory = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        for _ in 0..<6 {
            let candidate = directory.appendingPathComponent("ferry").path
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
            directory.deleteLastPathComponent()
        }
        let fromSource = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        return fromSource.appendingPathComponent(".build/debug/ferry").path
    }

    public var environment: [String: String]

    public init(password: String? = "test-password", extra: [String: String] = [:]) {
        var env = ProcessInfo.processInfo.environment
        env.removeValue(forKey: "FERRY_PASSWORD")
        env.removeValue(forKey: "FERRY_REPOSITORY")
        env.removeValue(forKey: "FERRY_TEST_STOP_AT")
        if let password { env["FERRY_PASSWORD"] = password }
        env.merge(extra) { _, new in new }
        environment = env
    }

    /// Runs `ferry args` to completion. Async, so that waiting never blocks one of the few
    /// threads of Swift's cooperative pool that every other test shares.
    @discardableResult
    public func run(_ args: [String], prefix: [String] = []) async throws -> ChildProcess.Result {
        try await start(args, prefix: prefix).wait()
    }

    /// Starts `ferry args` (optionally through a wrapper like setpriv).
    public func start(_ args: [String], prefix: [String] = []) throws -> ChildProcess {
        let command = prefix + [Self.binary] + args
        return try ChildProcess(executable: command[0], arguments: Array(command.dropFirst()), environment: environment)
    }
}

extension Dictionary where Key == String, Value == Any {
    /// A number field of a `--json` object (-1 when absent).
    public func int(_ key: String) -> Int64 {
        (self[key] as? NSNumber)?.int64Value ?? -1
    }

    /// A string field of a `--json` object ("" when absent).
    public func string(_ key: String) -> String {
        self[key] as? String ?? ""
    }
}
