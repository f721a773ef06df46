import ArgumentParser
import FerryMover
import FerryRepo
import FerryVolume
import Foundation

/// `ferry backup SOURCE`: backs up a block device or disk image.
struct BackupCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "backup",
        abstract: "Back up a block device or a disk image.",
        discussion: "Prints the new snapshot's id on stdout (or, with --json, a JSON object of what was done).")

    @Argument(help: ArgumentHelp("A block device or a disk image file (raw or qcow2).", valueName: "source"))
    var source: String

    @OptionGroup var repository: RepositoryOptions

    @OptionGroup var changeTracking: ChangeTrackingOptions

    @Option(name: .long, help: "Snapshot name (default: the source path); --parent auto matches on it.")
    var name: String?

    @Option(name: .long, help: ArgumentHelp("Block size (default: the repository's).", valueName: "size"))
    var blockSize: String?

    @Option(
        name: .long,
        help: ArgumentHelp("Snapshot to compare against, or 'auto' for the newest with the same name.", valueName: "snapshot|auto"))
    var parent: String?

    @Option(name: .long, parsing: .singleValue, help: ArgumentHelp("A key=value tag to record (repeatable).", valueName: "key=value"))
    var tag: [String] = []

    @Flag(name: .long, help: "Read a device or image even if it is mounted or in use (a running QEMU's image included).")
    var force = false

    @Option(
        name: .long,
        help: ArgumentHelp("Compression of new chunks (default: the repository's): lz4, zstd or zstd:LEVEL.", valueName: "codec"))
    var compression: Compression?

    @Option(name: .long, help: .hidden)
    var sessionLease: Int = 900

    @Flag(name: .long, help: "Print a JSON object instead of the snapshot id.")
    var json = false

    func run() async throws {
        let repo = try await repository.open(loadIndex: false)
        var blockSize = repo.config.blockSize
        if let text = self.blockSize {
            guard let parsed = BlockSize.parse(text), BlockSize.isValid(parsed) else {
                throw ValidationError("--block-size must be a power of two between 64K and 8M")
            }
            blockSize = parsed
        }
        let tags = try Tags.parse(tag)
        let name = self.name ?? source
        let parentSnapshot = try await resolveParent(repo, name: name)
        let block = try changeTracking.open(source, force: force)
        defer { (block as? RawBlockSource)?.close() }
        let tracker = try changeTracking.tracker(for: block, parent: parentSnapshot)
        let progress = TransferProgress(total: block.size)
        var request = BackupRequest(
            snapshotName: name, blockSize: blockSize, parent: parentSnapshot, tags: tags,
            progress: progress, changeTracker: tracker, cbtSample: changeTracking.sample, verifyCBT: changeTracking.verifyCbt)
        request.sessionLease = .seconds(max(1, sessionLease))
        request.compression = compression
        let result = try await ProgressDisplay(progress: progress, verb: "backup").around {
            try await VolumeBackup(source: block, repository: repo, request: request).run()
        }
        let stats = result.stats
        let tracking = result.manifest.volumes.first?.changeTracking
        if let reason = tracking?.fallbackReason, let tracker {
            Terminal.error("ferry: change tracking (\(tracker.provider)) not used: \(reason); every block was compared")
        }
        if json {
            try Terminal.json(
                BackupReport(
                    snapshot: result.snapshot.hex, name: name, parent: parentSnapshot?.id.hex, blockSize: blockSize,
                    cbtProvider: tracking?.provider ?? "none", cbtFallbackReason: tracking?.fallbackReason,
                    cbtMissedBlocks: result.missedBlocks, stats: stats))
        } else {
            Terminal.error(
                """
                snapshot \(result.snapshot.short) of \(name): \(Format.bytes(stats.size)) in \(Format.duration(stats.seconds)) \
                (\(Format.rate(stats.size, seconds: stats.seconds))); read \(Format.bytes(stats.bytesRead)), \
                blocks: \(stats.newBlocks) new, \(stats.dedupBlocks) dedup, \(stats.unchangedBlocks) unchanged, \(stats.zeroBlocks) zero; \
                stored \(Format.bytes(stats.bytesStored))
                """)
            Terminal.output(result.snapshot.hex)
        }
    }

    private func resolveParent(_ repo: Repository, name: String) async throws -> Snapshot? {
        guard let parent else { return nil }
        guard parent == "auto" else { return try await repo.snapshot(matching: parent) }
        return try await repo.latestSnapshot(named: name)
    }
}

/// The JSON object `ferry backup --json` prints.
struct BackupReport: Encodable {
    var snapshot: String
    var name: String
    var parent: String?
    var blockSize: Int
    var cbtProvider: String
    var cbtFallbackReason: String?
    /// With --verify-cbt: blocks that changed although the tracker did not report them.
    var cbtMissedBlocks: [Int]?
    var stats: VolumeStats

    enum CodingKeys: String, CodingKey {
        case snapshot, name, parent, blockSize, cbtProvider, cbtFallbackReason, cbtMissedBlocks
    }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(snapshot, forKey: .snapshot)
        try container.encode(name, forKey: .name)
        try container.encode(parent, forKey: .parent)
        try container.encode(blockSize, forKey: .blockSize)
        try container.encode(cbtProvider, forKey: .cbtProvider)
        try container.encodeIfPresent(cbtFallbackReason, forKey: .cbtFallbackReason)
        try container.encodeIfPresent(cbtMissedBlocks, forKey: .cbtMissedBlocks)
        try stats.encode(to: encoder)
    }
}
