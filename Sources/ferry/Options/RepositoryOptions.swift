import ArgumentParser
import FerryBlob
import FerryRepo
import Foundation

/// Where the repository is and how to open it: shared by every repository command.
struct RepositoryOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("The repository: a directory or s3://BUCKET/PREFIX (or FERRY_REPOSITORY).", valueName: "location"))
    var repo: String?

    @Option(name: .long, help: ArgumentHelp("Read the password from a file (first line).", valueName: "file"))
    var passwordFile: String?

    @Option(name: .long, help: ArgumentHelp("Run a shell command and use what it prints as the password.", valueName: "command"))
    var passwordCommand: String?

    @Option(name: .long, help: ArgumentHelp("S3 endpoint URL (or FERRY_S3_ENDPOINT).", valueName: "url"))
    var s3Endpoint: String?

    @Option(name: .long, help: ArgumentHelp("S3 region (or AWS_REGION).", valueName: "region"))
    var s3Region: String?

    @Option(name: .long, help: ArgumentHelp("Trust the CA certificates in this PEM file for TLS.", valueName: "file"))
    var caFile: String?

    @Flag(name: .long, help: "Do not verify TLS certificates (insecure; for testing only).")
    var insecureSkipTlsVerify = false

    /// The repository location from `--repo` or FERRY_REPOSITORY.
    func location() throws -> String {
        if let repo, !repo.isEmpty { return repo }
        if let env = ProcessInfo.processInfo.environment["FERRY_REPOSITORY"], !env.isEmpty { return env }
        throw ValidationError("no repository given: pass --repo or set FERRY_REPOSITORY")
    }

    var storeOptions: StoreOptions {
        let env = ProcessInfo.processInfo.environment
        return StoreOptions(
            s3Endpoint: s3Endpoint ?? env["FERRY_S3_ENDPOINT"],
            s3Region: s3Region ?? env["AWS_REGION"] ?? env["AWS_DEFAULT_REGION"],
            caFile: caFile, insecureSkipTLSVerify: insecureSkipTlsVerify)
    }

    func store(create: Bool = false) throws -> any ObjectStore {
        try StoreLocator.open(try location(), options: storeOptions, create: create)
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

    /// Opens the repository, warning on stderr about index objects that could not be read.
    func open(loadIndex: Bool = true) async throws -> Repository {
        let repository = try await Repository.open(store: try store(), password: try password(), loadIndex: loadIndex)
        for problem in repository.indexProblems {
            Terminal.error("warning: \(problem); its chunks are treated as missing (run ferry check)")
        }
        return repository
    }

    private static func firstLine(_ data: Data) -> [UInt8] {
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
