import ArgumentParser
import FerryMover
import FerryRepo
import Foundation

/// `ferry restore SNAPSHOT TARGET`: writes a snapshot's volume to a file or block device.
struct RestoreCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "restore",
        abstract: "Restore a snapshot to a file or a block device.",
        discussion:
            """
            A missing TARGET file is created sparse; \
            an existing file or device is overwritten so that it is byte-identical to the source at backup time.
            """
    )

    @Argument(help: ArgumentHelp("Snapshot id, a unique prefix of one, or 'latest'.", valueName: "snapshot"))
    var snapshot: String

    @Argument(help: ArgumentHelp("A file or block device to write.", valueName: "target"))
    var target: String

    @OptionGroup var repository: RepositoryOptions

    @OptionGroup var pointInTime: PointInTimeOptions

    @Option(name: .long, help: "Which volume of the snapshot (default: its only one).")
    var volume: String?

    @Flag(name: .long, help: "Write to a device even if it is mounted or in use.")
    var force = false

    @Flag(name: .long, help: "Print a JSON object of what was done.")
    var json = false

    func run() async throws {
        let repo = try await repository.open(pointInTime: try pointInTime.time())
        let snapshot = try await repo.snapshot(matching: self.snapshot)
        let volumes = snapshot.manifest.volumes
        let chosen: VolumeManifest
        if let volume {
            guard let match = volumes.first(where: { $0.name == volume }) else {
                throw CLIError(
                    "snapshot \(snapshot.id.short) has no volume \(volume) (it has: \(volumes.map(\.name).joined(separator: ", ")))")
            }
            chosen = match
        } else {
            guard volumes.count == 1 else {
                throw CLIError(
                    """
                    snapshot \(snapshot.id.short) has \(volumes.count) volumes; \
                    choose one with --volume (\(volumes.map(\.name).joined(separator: ", ")))
                    """
                )
            }
            chosen = volumes[0]
        }
        let progress = TransferProgress(total: chosen.size)
        let result = try await ProgressDisplay(progress: progress, verb: "restore").around {
            try await VolumeRestore(
                repository: repo, volume: chosen, target: target, request: RestoreRequest(force: force, progress: progress)
            ).run()
        }
        if json {
            try Terminal.json(
                RestoreReport(
                    snapshot: snapshot.id.hex, target: target, size: result.size, bytesWritten: result.bytesWritten,
                    zeroBytes: result.zeroBytes, chunks: result.chunksFetched, seconds: result.seconds))
        } else {
            Terminal.error(
                """
                restored snapshot \(snapshot.id.short) to \(target): \(Format.bytes(result.size)) \
                in \(Format.duration(result.seconds)) (\(Format.rate(result.size, seconds: result.seconds)))
                """
            )
        }
    }
}

/// The JSON object `ferry restore --json` prints.
struct RestoreReport: Encodable {
    var snapshot: String
    var target: String
    var size: Int64
    var bytesWritten: Int64
    var zeroBytes: Int64
    var chunks: Int
    var seconds: Double
}
