import Foundation

/// Runs the real `ferry` executable built next to the tests, as a user would.
public struct FerryProcess: Sendable {
    /// What a finished run printed and returned.
    public struct Result: Sendable, CustomStringConvertible {
        public var status: Int32
        public var stdout: String
        public var stderr: String
        /// Set when the process was killed by a signal.
        public var signal: Int32?

        public var succeeded: Bool { status == 0 && signal == nil }
        public var description: String { "status \(status)\(signal.map { " signal \($0)" } ?? "")\nstdout: \(stdout)\nstderr: \(stderr)" }

        /// The stdout parsed as a JSON object.
        public func json() throws -> [String: Any] {
            guard let object = try JSONSerialization.jsonObject(with: Data(stdout.utf8)) as? [String: Any] else {
                throw CocoaError(.propertyListReadCorrupt)
            }
            return object
        }
    }

    /// A run that was expected to succeed and did not.
    public struct Failure: Error, CustomStringConvertible {
        public var result: Result

        public init(result: Result) {
            self.result = result
        }

        public var description: String { result.description }
    }

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
    public func run(_ args: [String], prefix: [String] = []) async throws -> Result {
        try await start(args, prefix: prefix).wait()
    }

    /// Starts `ferry args` (optionally through a wrapper like setpriv).
    public func start(_ args: [String], prefix: [String] = []) throws -> RunningProcess {
        let process = Process()
        if prefix.isEmpty {
            process.executableURL = URL(fileURLWithPath: Self.binary)
            process.arguments = args
        } else {
            process.executableURL = URL(fileURLWithPath: prefix[0])
            process.arguments = Array(prefix.dropFirst()) + [Self.binary] + args
        }
        process.environment = environment
        return try RunningProcess(process)
    }
}

/// A started process whose output is collected in the background. Waiting for it is async:
/// tests must not park the cooperative pool's threads on child processes.
public final class RunningProcess: @unchecked Sendable {
    public let process: Process
    /// Output goes to files, not pipes: another child started meanwhile inherits whatever the
    /// test process has open, and a long-lived one (an S3 server) holding a pipe's write end
    /// would keep a reader waiting for its end for ever.
    private let output: TemporaryDirectory
    private var stdoutData = Data()
    private var stderrData = Data()
    /// Left at termination, once the output files have been read.
    private let group = DispatchGroup()

    init(_ process: Process) throws {
        self.process = process
        output = try TemporaryDirectory("ferry-process")
        let (stdoutPath, stderrPath) = (output.file("stdout"), output.file("stderr"))
        for path in [stdoutPath, stderrPath] { _ = FileManager.default.createFile(atPath: path, contents: nil) }
        let out = try FileHandle(forWritingTo: URL(fileURLWithPath: stdoutPath))
        let err = try FileHandle(forWritingTo: URL(fileURLWithPath: stderrPath))
        process.standardOutput = out
        process.standardError = err
        process.standardInput = FileHandle.nullDevice
        group.enter()
        process.terminationHandler = { [self] _ in
            stdoutData = (try? Data(contentsOf: URL(fileURLWithPath: stdoutPath))) ?? Data()
            stderrData = (try? Data(contentsOf: URL(fileURLWithPath: stderrPath))) ?? Data()
            group.leave()
        }
        defer {
            try? out.close()
            try? err.close()
        }
        do {
            try process.run()
        } catch {
            group.leave()
            throw error
        }
    }

    public var pid: Int32 { process.processIdentifier }

    /// Waits until the process has stopped itself (SIGSTOP at a fault point) or exited; true
    /// when it is stopped. Polls the process state, not a guessed delay.
    public func waitUntilStopped(timeout: TimeInterval = 120) async -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            guard process.isRunning else { return false }
            if let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
               let close = stat.lastIndex(of: ")") {
                let state = stat[stat.index(close, offsetBy: 2)]
                if state == "T" || state == "t" { return true }
            }
            try? await Task.sleep(for: .milliseconds(2))
        }
        return false
    }

    public func kill(_ signal: Int32 = SIGKILL) {
        Foundation.kill(pid, signal)
    }

    /// Waits until the process has exited. A cancelled wait (a test past its time limit) kills
    /// the process, so that a hung child never holds up the test run.
    public func wait() async -> FerryProcess.Result {
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                group.notify(queue: .global()) { continuation.resume() }
            }
        } onCancel: {
            Foundation.kill(pid, SIGKILL)
        }
        let signaled = process.terminationReason == .uncaughtSignal
        return FerryProcess.Result(
            status: signaled ? -1 : process.terminationStatus,
            stdout: String(decoding: stdoutData, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines),
            stderr: String(decoding: stderrData, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines),
            signal: signaled ? process.terminationStatus : nil)
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
