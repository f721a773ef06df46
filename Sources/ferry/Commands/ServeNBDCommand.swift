import ArgumentParser
import FerryMount
import FerryRepo
import Foundation

/// `ferry serve-nbd SNAPSHOT`: a snapshot's volumes, read-only, over NBD on 127.0.0.1.
struct ServeNBDCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve-nbd",
        abstract: "Export a snapshot's volumes read-only over NBD on 127.0.0.1 (qemu-img/QEMU read nbd://127.0.0.1:PORT/NAME).",
        discussion: """
            Each volume is an export named after it. Every chunk is verified before it is sent; a damaged one fails its read with EIO.
            """)

    @Argument(help: ArgumentHelp("Snapshot id, a unique prefix of one, or 'latest'.", valueName: "snapshot"))
    var snapshot: String

    @OptionGroup var repository: RepositoryOptions

    @OptionGroup var pointInTime: PointInTimeOptions

    @Option(name: .long, help: "Only this volume.")
    var volume: String?

    @Option(name: .long, help: "TCP port on 127.0.0.1 (0: any free port).")
    var port = 10809

    @Option(name: .long, help: ArgumentHelp("Memory for verified chunks (e.g. 256M, 1G).", valueName: "size"))
    var cacheSize = "256M"

    func run() async throws {
        guard let cacheBytes = BlockSize.parse(cacheSize), cacheBytes >= 16 << 20 else {
            throw ValidationError("--cache-size must be a size of at least 16M, e.g. 256M")
        }
        guard (0...65535).contains(port) else { throw ValidationError("--port must be between 0 and 65535") }
        let log = MountLog { Terminal.error("ferry serve-nbd: \($0)") }
        HeapTuning.returnLargeBuffersToTheSystem()
        let repo = try await repository.open(pointInTime: try pointInTime.time())
        let snapshot = try await repo.snapshot(matching: self.snapshot)
        let fileSystem = try SnapshotFileSystem(
            repository: repo, snapshot: snapshot, volume: volume,
            options: SnapshotFileSystem.Options(cacheBytes: cacheBytes), log: log)
        var exports: [String: VolumeReader] = [:]
        for entry in fileSystem.volumePaths { exports[entry.volume.name] = entry.reader }
        guard !exports.isEmpty else { throw CLIError("snapshot \(snapshot.id.short) has no volumes to export") }
        let server = try NBDServer(exports: exports, port: port, log: log)
        let signals = [SIGINT, SIGTERM, SIGHUP].map { number -> DispatchSourceSignal in
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler { server.stop() }
            source.resume()
            return source
        }
        defer { signals.forEach { $0.cancel() } }
        for name in exports.keys.sorted() {
            let size = Format.bytes(exports[name]!.size)
            let url = "nbd://127.0.0.1:\(server.port)/\(name)"
            Terminal.error("ferry serve-nbd: \(name) (\(size)) of snapshot \(snapshot.id.short) at \(url), read-only")
        }
        Terminal.output("nbd://127.0.0.1:\(server.port)")
        await server.run()
    }
}
