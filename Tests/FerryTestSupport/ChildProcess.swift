import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// The test suites' one way to run a program: a command run to its end (`run`), or a process
/// started and later waited for, signalled, stopped or crashed (`init`).
///
/// Output goes to files, never pipes: every child inherits what the test process has open, and
/// a long-lived one started meanwhile by another test (an S3 server) holding a pipe's write end
/// would keep a reader waiting for the pipe's end for ever.
public final class ChildProcess: @unchecked Sendable {
    /// What a finished process printed (without surrounding white space) and returned.
    public struct Result: Sendable, CustomStringConvertible {
        public var status: Int32
        public var stdout: String
        public var stderr: String
        /// Set when the process was killed by a signal.
        public var signal: Int32?

        public init(status: Int32, stdout: String, stderr: String, signal: Int32? = nil) {
            self.status = status
            self.stdout = stdout
            self.stderr = stderr
            self.signal = signal
        }

        public var succeeded: Bool { status == 0 && signal == nil }
        public var description: String {
            "status \(status)\(signal.map { " signal \($0)" } ?? "")\nstdout: \(stdout)\nstderr: \(stderr)"
        }

        /// The stdout parsed as a JSON object.
        public func json() throws -> [String: Any] {
            guard let object = try JSONSerialization.jsonObject(with: Data(stdout.utf8)) as? [String: Any] else {
                throw CocoaError(.propertyListReadCorrupt)
            }
            return object
        }
    }

    /// A command that was expected to succeed and did not.
    public struct Failed: Error, CustomStringConvertible {
        public var command: [String]
        public var result: Result

        public init(command: [String], result: Result) {
            self.command = command
            self.result = result
        }

        public var description: String {
            "\(command.joined(separator: " ")) exited \(result.status)\(result.signal.map { " (signal \($0))" } ?? ""): "
                + [result.stdout, result.stderr].filter { !$0.isEmpty }.joined(separator: "\n")
        }
    }

    public let process: Process
    /// Where stdout and stderr go (the same file when the caller named a log).
    public let stdoutPath: String
    public let stderrPath: String
    private let files: TemporaryDirectory
    private let command: [String]
    /// Left at termination; the termination handler captures only this and `outcome`, so the
    /// process does not keep this object alive.
    private let finished = DispatchGroup()
    private let outcome = Outcome()

    /// Starts `executable` with `arguments`.
    /// - Parameters:
    ///   - input: written to the program's standard input (from a file); otherwise /dev/null.
    ///   - log: one file for stdout and stderr (a server's log the test reads); otherwise both
    ///     are collected separately for `wait()`.
    ///   - dieWithParent: a small watchdog kills the program when the test process goes away
    ///     without stopping it (a crash, or a shared server nobody stops), then removes
    ///     `cleanupPath` if given (the server's data directory).
    public init(
        executable: String, arguments: [String], environment: [String: String]? = nil, directory: String? = nil,
        input: String? = nil, log: String? = nil, dieWithParent: Bool = false, cleanupPath: String? = nil
    ) throws {
        files = try TemporaryDirectory("ferry-process")
        command = [executable] + arguments
        stdoutPath = log ?? files.file("stdout")
        stderrPath = log ?? files.file("stderr")
        process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        if let environment { process.environment = environment }
        if let directory { process.currentDirectoryURL = URL(fileURLWithPath: directory) }
        var handles: [FileHandle] = []
        defer { for handle in handles { try? handle.close() } }
        for path in stdoutPath == stderrPath ? [stdoutPath] : [stdoutPath, stderrPath] {
            _ = FileManager.default.createFile(atPath: path, contents: nil)
            handles.append(try FileHandle(forWritingTo: URL(fileURLWithPath: path)))
        }
        process.standardOutput = handles[0]
        process.standardError = handles.count > 1 ? handles[1] : handles[0]
        if let input {
            let path = try files.write("stdin", input)
            let handle = try FileHandle(forReadingFrom: URL(fileURLWithPath: path))
            handles.append(handle)
            process.standardInput = handle
        } else {
            process.standardInput = FileHandle.nullDevice
        }
        let (finished, outcome, stdoutPath, stderrPath) = (finished, outcome, stdoutPath, stderrPath)
        finished.enter()
        process.terminationHandler = { process in
            outcome.set(
                Result(
                    status: process.terminationReason == .uncaughtSignal ? -1 : process.terminationStatus,
                    stdout: Self.trimmed(stdoutPath),
                    stderr: stderrPath == stdoutPath ? "" : Self.trimmed(stderrPath),
                    signal: process.terminationReason == .uncaughtSignal ? process.terminationStatus : nil))
            finished.leave()
        }
        do {
            try process.run()
        } catch {
            finished.leave()
            throw error
        }
        if dieWithParent { watch(cleanupPath: cleanupPath) }
    }

    deinit { stop() }

    public var pid: Int32 { process.processIdentifier }
    public var isRunning: Bool { process.isRunning }

    /// Everything the process has printed so far (stdout, then stderr).
    public var log: String {
        stdoutPath == stderrPath ? Self.read(stdoutPath) : Self.read(stdoutPath) + Self.read(stderrPath)
    }

    /// Waits until the process has exited. Async, so that waiting never parks a thread of the
    /// cooperative pool every test shares; a cancelled wait (a test past its time limit) kills
    /// the process, so a hung child never holds up the run.
    public func wait() async -> Result {
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                finished.notify(queue: .global()) { continuation.resume() }
            }
        } onCancel: { [pid] in
            Foundation.kill(pid, SIGKILL)
        }
        return outcome.result
    }

    /// Waits on this thread until the process has exited.
    public func waitUntilExit() -> Result {
        finished.wait()
        return outcome.result
    }

    /// Sends `signal` (SIGKILL by default) without waiting.
    public func kill(_ signal: Int32 = SIGKILL) {
        guard process.isRunning else { return }
        Foundation.kill(pid, signal)
    }

    /// Stops the process (SIGTERM, then SIGKILL if it lingers for 5 s) and waits for it.
    public func stop() {
        guard process.isRunning else { return }
        Foundation.kill(pid, SIGTERM)
        if finished.wait(timeout: .now() + 5) == .timedOut {
            Foundation.kill(pid, SIGKILL)
        }
        finished.wait()
    }

    /// Kills the process at once, as a crash would, and waits for it.
    public func crash() {
        kill(SIGKILL)
        finished.wait()
    }

    /// Waits until the process has stopped itself (SIGSTOP at a fault point) or exited; true
    /// when it is stopped. Polls the process state, not a guessed delay.
    public func waitUntilStopped(timeout: TimeInterval = 120) async -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            guard process.isRunning else { return false }
            if let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
                let close = stat.lastIndex(of: ")")
            {
                let state = stat[stat.index(close, offsetBy: 2)]
                if state == "T" || state == "t" { return true }
            }
            try? await Task.sleep(for: .milliseconds(2))
        }
        return false
    }

    /// Runs `command` (looked up on PATH) to its end and returns its stdout; throws `Failed` with
    /// its output when it does not succeed. Blocks this thread: for short commands.
    @discardableResult
    public static func run(
        _ command: [String], in directory: String? = nil, input: String? = nil, environment: [String: String]? = nil
    ) throws -> String {
        let child = try ChildProcess(
            executable: "/usr/bin/env", arguments: command, environment: environment, directory: directory, input: input)
        let result = child.waitUntilExit()
        guard result.succeeded else { throw Failed(command: command, result: result) }
        return result.stdout
    }

    /// Runs `command` to its end without blocking a thread of the cooperative pool.
    public static func output(
        _ command: [String], in directory: String? = nil, environment: [String: String]? = nil
    ) async throws -> Result {
        try await ChildProcess(executable: "/usr/bin/env", arguments: command, environment: environment, directory: directory).wait()
    }

    /// The full path of a program on PATH, or nil.
    public static func which(_ name: String) -> String? {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
        for directory in path.split(separator: ":") {
            let candidate = "\(directory)/\(name)"
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
        return nil
    }

    private static func read(_ path: String) -> String {
        String(decoding: (try? Data(contentsOf: URL(fileURLWithPath: path))) ?? Data(), as: UTF8.self)
    }

    private static func trimmed(_ path: String) -> String {
        read(path).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    private func watch(cleanupPath: String?) {
        let (child, parent) = (pid, getpid())
        let watchdog = Process()
        watchdog.executableURL = URL(fileURLWithPath: "/bin/sh")
        watchdog.arguments = [
            "-c",
            "while kill -0 \(parent) 2>/dev/null && kill -0 \(child) 2>/dev/null; do sleep 1; done; "
                + "kill -0 \(parent) 2>/dev/null || { kill -9 \(child) 2>/dev/null; sleep 1; "
                + "\(cleanupPath.map { "rm -rf '\($0)'" } ?? "true"); }",
        ]
        watchdog.standardOutput = FileHandle.nullDevice
        watchdog.standardError = FileHandle.nullDevice
        try? watchdog.run()
    }

    /// The result, set once by the termination handler before `finished` is left.
    private final class Outcome: @unchecked Sendable {
        private let lock = NSLock()
        private var value = Result(status: -1, stdout: "", stderr: "")

        func set(_ result: Result) { lock.withLock { value = result } }
        var result: Result { lock.withLock { value } }
    }
}
