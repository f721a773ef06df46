import Foundation
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// What stands for a container when the test server runs a pods/exec command: no container
/// runs, so the command runs on the host as a child process of the server, its argv as given
/// (a program name is looked up on the container's PATH, as the runtime does; `sh -c ...` for
/// shell syntax), its working directory and HOME the container's sandbox directory
/// (`<execSandboxRoot>/<namespace>/<pod>/<container>`), its environment the container's `env`
/// literal values plus HOSTNAME (the pod's name) and a container's default PATH. It is a
/// directory and an environment, not isolation: absolute paths reach the host.
///
/// Output goes to files (never pipes, which a stalled reader or an inherited descriptor could
/// block), read while the command runs; standard input, when asked for, is the whole stream the
/// client sent, so the command starts once the client closed it. The command is killed (its
/// process group) after the server's exec timeout, or when the client goes away.
final class ExecSandbox: Sendable {
    let session: ExecSession
    let timeout: Duration
    private let work: URL
    private let process = Mutex<Process?>(nil)
    private let killed = Mutex<Bool>(false)

    /// How a command ended.
    struct Outcome: Sendable {
        var exitCode: Int32
        var timedOut = false
        /// Set when the command could not start (the runtime's error).
        var startError: String?
    }

    init(_ session: ExecSession, timeout: Duration) {
        self.session = session
        self.timeout = timeout
        work = FileManager.default.temporaryDirectory.appendingPathComponent("ferry-testkube-exec-\(UUID().uuidString)")
    }

    var stdinPath: String { work.appendingPathComponent("stdin").path }

    /// Prepares the directories (and an empty standard input file).
    func prepare() throws {
        try FileManager.default.createDirectory(atPath: session.directory, withIntermediateDirectories: true)
        try FileManager.default.createDirectory(at: work, withIntermediateDirectories: true)
        _ = FileManager.default.createFile(atPath: stdinPath, contents: nil)
    }

    /// Appends what the client sent on the stdin channel.
    func appendStdin(_ bytes: [UInt8]) {
        guard let handle = FileHandle(forWritingAtPath: stdinPath) else { return }
        defer { try? handle.close() }
        _ = try? handle.seekToEnd()
        try? handle.write(contentsOf: Data(bytes))
    }

    /// Runs the command; `output(channel, bytes)` gets stdout (1) and stderr (2) as they come.
    func run(output: @Sendable (UInt8, [UInt8]) async -> Void) async -> Outcome {
        defer { try? FileManager.default.removeItem(at: work) }
        guard let executable = resolve(session.command[0]) else {
            return Outcome(
                exitCode: 127,
                startError:
                    "OCI runtime exec failed: exec failed: unable to start container process: exec: \"\(session.command[0])\": "
                    + "executable file not found in $PATH: unknown")
        }
        let out = work.appendingPathComponent("stdout")
        let err = work.appendingPathComponent("stderr")
        let child = Process()
        child.executableURL = URL(fileURLWithPath: executable)
        child.arguments = Array(session.command.dropFirst())
        child.environment = session.environment
        child.currentDirectoryURL = URL(fileURLWithPath: session.directory)
        do {
            for file in [out, err] { _ = FileManager.default.createFile(atPath: file.path, contents: nil) }
            let outHandle = try FileHandle(forWritingTo: out)
            let errHandle = try FileHandle(forWritingTo: err)
            let inHandle = session.stdin ? try FileHandle(forReadingFrom: URL(fileURLWithPath: stdinPath)) : FileHandle.nullDevice
            defer {
                try? outHandle.close()
                try? errHandle.close()
                if session.stdin { try? inHandle.close() }
            }
            child.standardOutput = outHandle
            child.standardError = errHandle
            child.standardInput = inHandle
            try child.run()
        } catch {
            return Outcome(exitCode: 126, startError: "OCI runtime exec failed: exec failed: unable to start container process: \(error)")
        }
        process.withLock { $0 = child }
        let deadline = ContinuousClock.now + timeout
        var offsets: [UInt8: UInt64] = [1: 0, 2: 0]
        var timedOut = false
        func drain() async {
            for (channel, file) in [(UInt8(1), out), (UInt8(2), err)] {
                guard let handle = try? FileHandle(forReadingFrom: file) else { continue }
                defer { try? handle.close() }
                try? handle.seek(toOffset: offsets[channel] ?? 0)
                guard let data = try? handle.readToEnd(), !data.isEmpty else { continue }
                offsets[channel, default: 0] += UInt64(data.count)
                let wanted = channel == 1 ? session.stdout : session.stderr
                if wanted { await output(channel, Array(data)) }
            }
        }
        while child.isRunning {
            await drain()
            if ContinuousClock.now >= deadline {
                timedOut = true
                kill()
            }
            try? await Task.sleep(for: .milliseconds(20))
        }
        await drain()
        let status = child.terminationStatus
        let code = child.terminationReason == .uncaughtSignal ? 128 + status : status
        return Outcome(exitCode: code, timedOut: timedOut)
    }

    /// Kills the command and whatever it started (its process group, when it leads one).
    func kill() {
        killed.withLock { $0 = true }
        guard let child = process.withLock({ $0 }), child.isRunning else { return }
        let pid = child.processIdentifier
        if getpgid(pid) == pid {
            _ = Glibc.kill(-pid, SIGKILL)
        } else {
            _ = Glibc.kill(pid, SIGKILL)
        }
    }

    /// The program: a path as it is, a name looked up on the container's PATH.
    private func resolve(_ program: String) -> String? {
        if program.contains("/") {
            let path = program.hasPrefix("/") ? program : "\(session.directory)/\(program)"
            return FileManager.default.isExecutableFile(atPath: path) ? path : nil
        }
        for directory in (session.environment["PATH"] ?? "").split(separator: ":") {
            let candidate = "\(directory)/\(program)"
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
        return nil
    }
}
