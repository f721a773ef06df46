import FerryTestSupport
import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// A program a test starts (weed, openssl s_server) and stops by its own pid.
public final class ChildProcess: @unchecked Sendable {
    public let process: Process
    public let logPath: String

    /// Starts `executable` with `arguments`, its output going to `logPath`.
    /// With `dieWithParent`, a small watchdog kills the program when the test process goes away
    /// without stopping it (a crash, or a shared server nobody stops), and then removes
    /// `cleanupPath` if given (the server's data directory).
    public init(
        executable: String, arguments: [String], logPath: String, environment: [String: String]? = nil, dieWithParent: Bool = false,
        cleanupPath: String? = nil
    ) throws {
        process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        if let environment { process.environment = environment }
        _ = FileManager.default.createFile(atPath: logPath, contents: nil)
        let log = FileHandle(forWritingAtPath: logPath)
        process.standardOutput = log
        process.standardError = log
        process.standardInput = FileHandle.nullDevice
        self.logPath = logPath
        try process.run()
        if dieWithParent {
            let child = process.processIdentifier
            let parent = getpid()
            let watchdog = Process()
            watchdog.executableURL = URL(fileURLWithPath: "/bin/sh")
            watchdog.arguments = [
                "-c",
                "while kill -0 \(parent) 2>/dev/null && kill -0 \(child) 2>/dev/null; do sleep 1; done; "
                    + "kill -0 \(parent) 2>/dev/null || { kill -9 \(child) 2>/dev/null; sleep 1; \(cleanupPath.map { "rm -rf '\($0)'" } ?? "true"); }",
            ]
            watchdog.standardOutput = FileHandle.nullDevice
            watchdog.standardError = FileHandle.nullDevice
            try? watchdog.run()
        }
    }

    public var pid: Int32 { process.processIdentifier }
    public var isRunning: Bool { process.isRunning }

    /// Stops the process (SIGTERM, then SIGKILL if it lingers) and waits for it.
    public func stop() {
        guard process.isRunning else { return }
        kill(pid, SIGTERM)
        for _ in 0..<100 where process.isRunning {
            usleep(50_000)
        }
        if process.isRunning {
            kill(pid, SIGKILL)
        }
        process.waitUntilExit()
    }

    /// Kills the process at once, as a crash would.
    public func crash() {
        guard process.isRunning else { return }
        kill(pid, SIGKILL)
        process.waitUntilExit()
    }

    public var log: String {
        (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? ""
    }

    deinit {
        stop()
    }

    /// Runs a program to completion and returns its output; throws when it fails.
    @discardableResult
    public static func run(_ executable: String, _ arguments: [String], in directory: String? = nil) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        if let directory { process.currentDirectoryURL = URL(fileURLWithPath: directory) }
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try process.run()
        let output = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw TestServerError.setup("\(executable) \(arguments.joined(separator: " ")) failed: \(output)")
        }
        return output
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

    /// Waits until something accepts connections on 127.0.0.1:`port`, or the process died.
    public func waitForPort(_ port: Int, attempts: Int = 600) throws {
        for _ in 0..<attempts {
            if let socket = try? Socket.connect(port: port) {
                socket.close()
                return
            }
            if !process.isRunning {
                throw TestServerError.setup("\(process.executableURL?.lastPathComponent ?? "process") exited before listening on \(port): \(log.suffix(2000))")
            }
            usleep(50_000)
        }
        throw TestServerError.timeout("nothing listened on port \(port): \(log.suffix(2000))")
    }
}

/// The test suites' one temporary directory type.
public typealias ScratchDirectory = TemporaryDirectory
