import FerryKubeTestServer
import FerryTestSupport
import Foundation

/// Debian's podman running the Ferry image built by scripts/image.sh, as a node's container
/// runtime would: runc with cgroupfs (these machines have cgroup v1, which crun refuses), no
/// default ulimits (podman's exceed what the machine allows), in a storage of its own that the
/// test process removes. The image is loaded once per test process from its OCI archive.
///
/// The archive is `FERRY_IMAGE_ARCHIVE`, else `.build/image/ferry-<appVersion>.oci.tar` (what
/// `scripts/image.sh` writes by default). Missing, the image tests skip outside CI and fail in CI.
final class Podman: Sendable {
    /// The image's name as the chart refers to it (`image.repository:appVersion`).
    let image: String
    let podman: String
    private let directory: TemporaryDirectory

    /// The process-wide instance (the image loaded once).
    static func shared() throws -> Podman { try sharedInstance.get() }
    private static let sharedInstance: Result<Podman, any Error> = Result { try Podman() }

    /// Why the image tests cannot run here, or nil.
    static var unavailableReason: String? {
        if TestEnvironment.which("podman") == nil { return "podman is not installed (apt-get install podman runc)" }
        if TestEnvironment.which("runc") == nil { return "runc is not installed (apt-get install runc)" }
        if !TestEnvironment.isRoot { return "podman with runc and cgroupfs needs root here" }
        if !FileManager.default.fileExists(atPath: archive) { return "no image archive at \(archive) (scripts/image.sh builds it)" }
        return nil
    }

    /// The OCI archive of the image under test.
    static var archive: String {
        if let explicit = ProcessInfo.processInfo.environment["FERRY_IMAGE_ARCHIVE"], !explicit.isEmpty { return explicit }
        return repositoryRoot.appendingPathComponent(".build/image/ferry-\(appVersion).oci.tar").path
    }

    static let repositoryRoot = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// The chart's appVersion, the image's default tag.
    static var appVersion: String {
        let chart = (try? String(contentsOf: repositoryRoot.appendingPathComponent("charts/ferry/Chart.yaml"), encoding: .utf8)) ?? ""
        let line = chart.split(separator: "\n").first { $0.hasPrefix("appVersion:") } ?? ""
        return line.dropFirst("appVersion:".count).trimmingCharacters(in: CharacterSet(charactersIn: " \""))
    }

    private init() throws {
        guard let podman = TestEnvironment.which("podman") else { throw Unavailable(reason: "podman is not installed") }
        self.podman = podman
        directory = try TemporaryDirectory("ferry-podman")
        try directory.write(
            "containers.conf",
            """
            [containers]
            default_ulimits = []
            [engine]
            runtime = "runc"
            cgroup_manager = "cgroupfs"
            events_logger = "file"
            """)
        image = "ghcr.io/ferry-backup/ferry:\(Self.appVersion)"
        try cleanUpAtExit()
        let loaded = try ChildProcess.run(command(["load", "--input", Self.archive]))
        guard loaded.contains(image) else {
            throw Unavailable(reason: "\(Self.archive) does not hold \(image) (podman load: \(loaded))")
        }
    }

    deinit {
        // Containers still running (a test that failed before removing its own) hold mounts in
        // the storage directory: stop them before it is removed.
        _ = try? ChildProcess.run(command(["rm", "--all", "--force", "--time", "0"]))
        _ = try? ChildProcess.run(command(["rmi", "--all", "--force"]))
    }

    /// When the test process ends (the shared instance is never released): its containers are
    /// removed, then the storage (whose mounts they hold).
    private func cleanUpAtExit() throws {
        let quoted = command(["rm", "--all", "--force", "--time", "0"]).map { "'\($0)'" }.joined(separator: " ")
        let watchdog = Process()
        watchdog.executableURL = URL(fileURLWithPath: "/bin/sh")
        let script = "while kill -0 \(getpid()) 2>/dev/null; do sleep 1; done; \(quoted) >/dev/null 2>&1; rm -rf '\(directory.path)'"
        watchdog.arguments = ["-c", script]
        watchdog.standardOutput = FileHandle.nullDevice
        watchdog.standardError = FileHandle.nullDevice
        try watchdog.run()
    }

    /// Closes every descriptor above stderr, then runs its arguments. A detached container's
    /// conmon stays running with what podman inherited, which includes the descriptor by which
    /// Foundation's Process sees a child end: podman would never be seen to end.
    static let closingDescriptors = [
        "/bin/bash", "-c", #"for fd in /proc/$$/fd/*; do fd=${fd##*/}; [ "$fd" -gt 2 ] && eval "exec $fd>&-"; done 2>/dev/null; exec "$@""#,
        "podman",
    ]

    /// A podman command line with this instance's configuration and storage.
    func command(_ arguments: [String]) -> [String] {
        Self.closingDescriptors + [
            "env", "CONTAINERS_CONF=\(directory.file("containers.conf"))", podman,
            "--root", directory.file("storage"), "--runroot", directory.file("run"), "--tmpdir", directory.file("tmp"),
            "--storage-driver", "vfs", "--runtime", "runc", "--cgroup-manager", "cgroupfs", "--events-backend", "file",
        ] + arguments
    }

    /// Runs podman to completion without holding the cooperative pool; returns its output
    /// (stdout and stderr, as one log).
    @discardableResult
    func run(_ arguments: [String]) async throws -> String {
        let command = command(arguments)
        let log = directory.file("podman-\(UUID().uuidString).log")
        defer { try? FileManager.default.removeItem(atPath: log) }
        let result = try await ChildProcess(executable: command[0], arguments: Array(command.dropFirst()), log: log).wait()
        guard result.succeeded else { throw ChildProcess.Failed(command: command, result: result) }
        return result.stdout
    }

    /// Runs a container of the image to completion (`podman run --rm`); returns its status and output.
    func runContainer(_ options: [String], _ arguments: [String]) async throws -> (status: Int32, output: String) {
        do {
            return (0, try await run(["run", "--rm"] + options + [image] + arguments))
        } catch let failure as ChildProcess.Failed {
            return (failure.result.status, failure.result.stdout)
        }
    }

    /// Starts a detached container named `name`; `Container.remove()` ends it.
    func start(name: String, _ options: [String], _ arguments: [String]) async throws -> Container {
        try await run(["run", "--detach", "--name", name] + options + [image] + arguments)
        return Container(podman: self, name: name)
    }

    /// A started container.
    struct Container: Sendable {
        let podman: Podman
        let name: String

        /// What it printed so far.
        func logs() async -> String {
            (try? await podman.run(["logs", name])) ?? "(no logs of \(name))"
        }

        /// `podman inspect --format FORMAT`.
        func inspect(_ format: String) async throws -> String {
            try await podman.run(["inspect", "--format", format, name]).trimmingCharacters(in: .whitespacesAndNewlines)
        }

        /// Stops (SIGTERM, then SIGKILL after `timeout` seconds) and removes it.
        func remove(timeout: Int = 5) async {
            _ = try? await podman.run(["rm", "--force", "--time", String(timeout), name])
        }
    }

    struct Unavailable: Error, CustomStringConvertible {
        var reason: String
        var description: String { "the image cannot be run: \(reason)" }
    }
}
