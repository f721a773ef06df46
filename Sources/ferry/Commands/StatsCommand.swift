import ArgumentParser
import FerryRepo

/// `ferry stats`: sizes and counts of a repository.
struct StatsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "stats",
        abstract: "Show repository sizes and counts.")

    @OptionGroup var repository: RepositoryOptions

    @Flag(name: .long, help: "Print a JSON object.")
    var json = false

    func run() async throws {
        let repo = try await repository.open()
        let stats = try await RepositoryStats.gather(repo)
        if json {
            try Terminal.json(stats)
            return
        }
        let dedup = stats.chunkBytes > 0 ? Double(stats.logicalBytes) / Double(stats.chunkBytes) : 0
        let compression = stats.storedChunkBytes > 0 ? Double(stats.chunkBytes) / Double(stats.storedChunkBytes) : 0
        Terminal.output(
            """
            repository      \(repo.location) (\(repo.config.id), \(repo.isEncrypted ? "encrypted" : "unencrypted"))
            snapshots       \(stats.snapshots), \(Format.bytes(stats.logicalBytes)) logical
            chunks          \(stats.chunks), \(Format.bytes(stats.chunkBytes)) unique data, \(Format.bytes(stats.storedChunkBytes)) stored
            packs           \(stats.packs), \(Format.bytes(stats.packBytes))
            index objects   \(stats.indexObjects), \(Format.bytes(stats.indexBytes))
            total size      \(Format.bytes(stats.totalBytes))
            dedup ratio     \(String(format: "%.2f", dedup))x (logical / unique, zero blocks excluded from unique)
            compression     \(String(format: "%.2f", compression))x
            """)
    }
}
