import ArgumentParser
import FerryBlob
import FerryRepo
import Foundation

/// `ferry repo ...`: creating and inspecting repositories.
struct RepoCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "repo",
        abstract: "Create and manage repositories.",
        subcommands: [RepoInitCommand.self, RepoUndeleteCommand.self])
}

/// `ferry repo init`: creates an encrypted repository (unencrypted only when asked explicitly).
struct RepoInitCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "init",
        abstract: "Create a new repository.")

    @OptionGroup var repository: RepositoryOptions

    @Option(name: .long, help: ArgumentHelp("Default block size of backups (64K to 8M, a power of two).", valueName: "size"))
    var blockSize: String = "1M"

    @Option(name: .long, help: .hidden)
    var packSize: String = "32M"

    @Option(
        name: .long,
        help: ArgumentHelp(
            "Blocks per block-map page (a power of two, 16 to 1048576). A volume split across work units is split at page boundaries.",
            valueName: "n"))
    var blockMapPageEntries = 4096

    @Option(
        name: .long,
        help: ArgumentHelp(
            """
            Default compression of new chunks: lz4 (fastest), zstd:-1 (an eighth smaller, about as fast), \
            zstd (a quarter smaller, slower) or zstd:LEVEL (-7 to 19).
            """,
            valueName: "codec"))
    var compression: Compression = .lz4

    @Flag(name: .long, help: "Create a repository without encryption (anyone with access to the storage can read it).")
    var insecureNoEncryption = false

    @Option(
        name: .long,
        help: ArgumentHelp(
            "Lock every object Ferry writes with S3 Object Lock: compliance (nobody can delete it before its date) or governance.",
            valueName: "mode"))
    var objectLockMode: String?

    @Option(name: .long, help: ArgumentHelp("How long each object stays locked, in days (with --object-lock-mode).", valueName: "days"))
    var objectLockDays: Double?

    func run() async throws {
        guard let blockSize = BlockSize.parse(self.blockSize), BlockSize.isValid(blockSize) else {
            throw ValidationError("--block-size must be a power of two between 64K and 8M")
        }
        guard let packSize = BlockSize.parse(self.packSize) else {
            throw ValidationError("--pack-size must be a size such as 32M")
        }
        let password = try repository.password()
        if insecureNoEncryption && password != nil {
            throw ValidationError("--insecure-no-encryption and a password were both given; choose one")
        }
        if !insecureNoEncryption && password == nil {
            throw CLIError(
                """
                a password is required to create an encrypted repository: \
                set FERRY_PASSWORD or pass --password-file or --password-command (or --insecure-no-encryption)
                """
            )
        }
        if let password, password.isEmpty {
            throw CLIError("the password is empty")
        }
        let store = try repository.store(create: true)
        guard (16...(1 << 20)).contains(blockMapPageEntries), blockMapPageEntries.nonzeroBitCount == 1 else {
            throw ValidationError("--block-map-page-entries must be a power of two between 16 and 1048576")
        }
        let config = try await Repository.initialize(
            store: store, password: password, blockSize: blockSize, packSize: packSize,
            blockMapPageEntries: blockMapPageEntries, compression: compression,
            objectLock: try objectLock())
        let locked = config.objectLock.map { ", every object locked (\($0.mode)) for \(String(format: "%g", $0.days)) days" } ?? ""
        Terminal.error("created \(config.isEncrypted ? "encrypted" : "UNENCRYPTED") repository \(config.id) at \(store.location)\(locked)")
    }

    /// The Object Lock policy the flags ask for, or nil.
    func objectLock() throws -> ObjectLockPolicy? {
        switch (objectLockMode, objectLockDays) {
        case (nil, nil):
            return nil
        case (let text?, let days?):
            guard let mode = ObjectLockMode(rawValue: text.uppercased()) else {
                throw ValidationError("--object-lock-mode takes compliance or governance, not \(text)")
            }
            guard days > 0, days.isFinite else { throw ValidationError("--object-lock-days must be more than 0") }
            return ObjectLockPolicy(mode: mode, days: days)
        default:
            throw ValidationError("--object-lock-mode and --object-lock-days go together")
        }
    }
}

/// `ferry repo undelete --point-in-time TIME`: brings back what was deleted after TIME in a
/// versioned (Object Lock) bucket, by removing the delete markers made since.
struct RepoUndeleteCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "undelete",
        abstract: "Remove the delete markers made after a time (S3 buckets with versioning).",
        discussion: """
            The repository's objects (config, keys, packs, index, snapshots) deleted after TIME become current again. \
            Check the result with `ferry check`; objects written after TIME stay as they are.
            """)

    @OptionGroup var repository: RepositoryOptions

    @OptionGroup var pointInTime: PointInTimeOptions

    @Flag(name: .long, help: "Print a JSON object of what was done.")
    var json = false

    func run() async throws {
        guard let time = try pointInTime.time() else { throw ValidationError("undelete needs --point-in-time TIME") }
        let report = try await Undelete(store: try repository.store(), after: time).run()
        if json {
            try Terminal.json(report)
        } else {
            Terminal.output("removed \(report.markersRemoved) delete marker(s); \(report.objectsRestored.count) object(s) current again")
        }
    }
}
