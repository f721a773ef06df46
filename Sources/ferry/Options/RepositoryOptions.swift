import ArgumentParser
import FerryBlob
import FerryRepo
import Foundation

/// Where the repository is and how to open it: shared by every repository command.
struct RepositoryOptions: ParsableArguments {
    @Option(
        name: .long, help: ArgumentHelp("The repository: a directory or s3://BUCKET/PREFIX (or FERRY_REPOSITORY).", valueName: "location"))
    var repo: String?

    @Option(name: .long, help: ArgumentHelp("Read the password from a file (first line).", valueName: "file"))
    var passwordFile: String?

    @Option(name: .long, help: ArgumentHelp("Run a shell command and use what it prints as the password.", valueName: "command"))
    var passwordCommand: String?

    @Option(
        name: .long,
        help: ArgumentHelp(
            "Open the repository with a raw key: a file holding base64 of 32 random bytes (or FERRY_KEY).", valueName: "file"))
    var keyFile: String?

    @Option(name: .long, help: ArgumentHelp("S3 endpoint URL (or FERRY_S3_ENDPOINT).", valueName: "url"))
    var s3Endpoint: String?

    @Option(name: .long, help: ArgumentHelp("S3 region (or AWS_REGION).", valueName: "region"))
    var s3Region: String?

    @Option(name: .long, help: ArgumentHelp("AWS profile in the shared credentials/config files (or AWS_PROFILE).", valueName: "name"))
    var s3Profile: String?

    @Option(name: .long, help: ArgumentHelp("S3 addressing: path, virtual or auto.", valueName: "style"))
    var s3Addressing: String = "auto"

    @Option(
        name: .long, parsing: .singleValue,
        help: ArgumentHelp("Storage class for objects under a prefix, e.g. packs/=STANDARD_IA (repeatable).", valueName: "prefix=class"))
    var s3StorageClass: [String] = []

    @Option(name: .long, help: ArgumentHelp("Trust the CA certificates in this PEM file for TLS.", valueName: "file"))
    var caFile: String?

    @Flag(name: .long, help: "Do not verify TLS certificates (insecure; for testing only).")
    var insecureSkipTlsVerify = false

    @Option(
        name: .long,
        help: ArgumentHelp("Where to cache the repository's index (default: FERRY_CACHE_DIR, else ~/.cache/ferry).", valueName: "dir"))
    var cacheDir: String?

    @Flag(name: .long, help: "Do not use or update the local index cache.")
    var noCache = false

    var cache: IndexCache? {
        noCache ? nil : IndexCache(directory: cacheDir ?? IndexCache.defaultDirectory)
    }

    /// The repository location from `--repo` or FERRY_REPOSITORY.
    func location() throws -> String {
        if let repo, !repo.isEmpty { return repo }
        if let env = ProcessInfo.processInfo.environment["FERRY_REPOSITORY"], !env.isEmpty { return env }
        throw ValidationError("no repository given: pass --repo or set FERRY_REPOSITORY")
    }

    /// The flags as given; `StoreLocator` fills in the rest from the environment.
    func storeOptions() throws -> StoreOptions {
        guard let addressing = S3AddressingStyle(rawValue: s3Addressing) else {
            throw ValidationError("--s3-addressing takes path, virtual or auto")
        }
        let classes = try s3StorageClass.map { rule -> S3StorageClassRule in
            guard let eq = rule.firstIndex(of: "="), eq != rule.startIndex, rule.index(after: eq) != rule.endIndex else {
                throw ValidationError("--s3-storage-class takes PREFIX=CLASS, got \(rule)")
            }
            return S3StorageClassRule(prefix: String(rule[..<eq]), storageClass: String(rule[rule.index(after: eq)...]))
        }
        return StoreOptions(
            s3Endpoint: s3Endpoint, s3Region: s3Region, caFile: caFile, insecureSkipTLSVerify: insecureSkipTlsVerify,
            s3Profile: s3Profile, s3Addressing: addressing, s3StorageClasses: classes)
    }

    /// The repository's store as typed values, from `--repo` (or FERRY_REPOSITORY), the flags and the environment.
    func storeLocation(create: Bool = false) throws -> StoreLocation {
        try StoreLocator.location(try location(), options: try storeOptions(), create: create)
    }

    func store(create: Bool = false) throws -> any ObjectStore {
        try storeLocation(create: create).open()
    }

    /// The password from --password-file, --password-command or FERRY_PASSWORD, or nil when
    /// none is given.
    func password() throws -> [UInt8]? {
        if let passwordFile {
            guard let data = FileManager.default.contents(atPath: passwordFile) else {
                throw CLIError("cannot read the password file \(passwordFile)")
            }
            return Self.firstLine(data)
        }
        if let passwordCommand {
            return try Self.run(passwordCommand)
        }
        if let env = ProcessInfo.processInfo.environment["FERRY_PASSWORD"] {
            return Array(env.utf8)
        }
        return nil
    }

    /// The credential to open the repository with: a raw key (--key-file, FERRY_KEY), else the
    /// password, or nil when neither is given.
    func credential() throws -> Credential? {
        if let keyFile {
            guard let data = FileManager.default.contents(atPath: keyFile) else { throw CLIError("cannot read the key file \(keyFile)") }
            return .rawKey(try Self.decodeRawKey(String(decoding: data, as: UTF8.self), source: keyFile))
        }
        if let env = ProcessInfo.processInfo.environment["FERRY_KEY"], !env.isEmpty {
            return .rawKey(try Self.decodeRawKey(env, source: "FERRY_KEY"))
        }
        return try password().map { .password($0) }
    }

    static func decodeRawKey(_ text: String, source: String) throws -> [UInt8] {
        guard let data = Data(base64Encoded: text.trimmingCharacters(in: .whitespacesAndNewlines)), data.count == 32 else {
            throw CLIError("\(source) must hold base64 of exactly 32 bytes (e.g. `head -c 32 /dev/urandom | base64`)")
        }
        return [UInt8](data)
    }

    /// Opens the repository, warning on stderr about index objects that could not be read.
    /// With `pointInTime`, the repository as it was then (read-only, without the index cache).
    func open(loadIndex: Bool = true, pointInTime: Date? = nil) async throws -> Repository {
        let store = try await store(at: pointInTime)
        let repository = try await Repository.open(
            store: store, credential: try credential(), loadIndex: loadIndex,
            cache: pointInTime == nil ? cache : nil)
        for problem in repository.indexProblems {
            Terminal.error("warning: \(problem); its chunks are treated as missing (run ferry check)")
        }
        return repository
    }

    static func firstLine(_ data: Data) -> [UInt8] {
        var bytes = [UInt8](data)
        if let newline = bytes.firstIndex(of: UInt8(ascii: "\n")) { bytes.removeSubrange(newline...) }
        if bytes.last == UInt8(ascii: "\r") { bytes.removeLast() }
        return bytes
    }

    private static func run(_ command: String) throws -> [UInt8] {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/sh")
        process.arguments = ["-c", command]
        let pipe = Pipe()
        process.standardOutput = pipe
        do {
            try process.run()
        } catch {
            throw CLIError("cannot run the password command: \(error.localizedDescription)")
        }
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw CLIError("the password command exited with status \(process.terminationStatus)")
        }
        return firstLine(data)
    }
}

/// A command-line usage problem with a message for the user.
struct CLIError: Error, CustomStringConvertible {
    var description: String

    init(_ description: String) {
        self.description = description
    }
}
