import ArgumentParser
import FerryRepo
import Foundation

/// `ferry key ...`: the repository's key slots.
struct KeyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "key",
        abstract: "Manage the passwords and raw keys that open the repository.",
        subcommands: [KeyListCommand.self, KeyAddCommand.self, KeyRemoveCommand.self, KeyPasswdCommand.self])
}

/// Where a new password or key comes from.
struct NewCredentialOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("Read the new password from a file (or FERRY_NEW_PASSWORD).", valueName: "file"))
    var newPasswordFile: String?

    @Option(name: .long, help: ArgumentHelp("Add a raw key instead: a file holding base64 of 32 random bytes.", valueName: "file"))
    var newKeyFile: String?

    func credential() throws -> Credential {
        if let newKeyFile {
            guard let data = FileManager.default.contents(atPath: newKeyFile) else {
                throw CLIError("cannot read the key file \(newKeyFile)")
            }
            return .rawKey(try RepositoryOptions.decodeRawKey(String(decoding: data, as: UTF8.self), source: newKeyFile))
        }
        if let newPasswordFile {
            guard let data = FileManager.default.contents(atPath: newPasswordFile) else {
                throw CLIError("cannot read the password file \(newPasswordFile)")
            }
            let password = RepositoryOptions.firstLine(data)
            guard !password.isEmpty else { throw CLIError("the new password is empty") }
            return .password(password)
        }
        if let env = ProcessInfo.processInfo.environment["FERRY_NEW_PASSWORD"], !env.isEmpty {
            return .password(Array(env.utf8))
        }
        throw CLIError("no new password: pass --new-password-file, --new-key-file or set FERRY_NEW_PASSWORD")
    }
}

struct KeyListCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "list", abstract: "List key slots.")

    @OptionGroup var repository: RepositoryOptions
    @Flag(name: .long, help: "Print a JSON array.") var json = false

    func run() async throws {
        let slots = try await repository.open(loadIndex: false).keySlots()
        if json {
            try Terminal.json(slots)
            return
        }
        let formatter = ISO8601DateFormatter()
        var rows = [[" ", "ID", "KIND", "CREATED", "USER@HOST"]]
        for slot in slots {
            rows.append([
                slot.current ? "*" : " ", String(slot.id.prefix(8)), slot.kdf == "raw" ? "raw key" : "password",
                formatter.string(from: slot.created), "\(slot.username)@\(slot.hostname)",
            ])
        }
        Terminal.table(rows)
    }
}

struct KeyAddCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "add", abstract: "Add a key slot for another password or a raw key.")

    @OptionGroup var repository: RepositoryOptions
    @OptionGroup var new: NewCredentialOptions

    func run() async throws {
        let repo = try await repository.open(loadIndex: false)
        let id = try await repo.addKeySlot(try new.credential())
        Terminal.error("added key slot \(id.prefix(8))")
    }
}

struct KeyRemoveCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "remove", abstract: "Remove a key slot (not the one in use, not the last).")

    @OptionGroup var repository: RepositoryOptions
    @Argument(help: ArgumentHelp("The slot's id or a unique prefix of it.", valueName: "id")) var id: String

    func run() async throws {
        try await repository.open(loadIndex: false).removeKeySlot(id)
        Terminal.error("removed key slot \(id)")
    }
}

struct KeyPasswdCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "passwd", abstract: "Change the password of the key slot in use.")

    @OptionGroup var repository: RepositoryOptions
    @OptionGroup var new: NewCredentialOptions

    func run() async throws {
        let repo = try await repository.open(loadIndex: false)
        let id = try await repo.changeKey(to: try new.credential())
        Terminal.error("password changed (new key slot \(id.prefix(8)))")
    }
}
