import ArgumentParser
import FerryMount
import FerryRepo
import Foundation

/// `ferry mount [SNAPSHOT] MOUNTPOINT`: the repository's snapshots (or one of them) as a
/// read-only file system through FUSE, until Ctrl-C, SIGTERM or `umount`.
struct MountCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "mount",
        abstract: "Mount snapshots read-only through FUSE: volumes as raw disk files, captured objects as YAML.",
        discussion: """
            Without SNAPSHOT the whole repository is shown: ids/<id>/, snapshots/<time>, names/<name>/<time> and latest. \
            Each volume is a file of its raw bytes (disk.raw); loop-mount it read-only to restore single files \
            (mount -o loop,ro MOUNTPOINT/latest/disk.raw /mnt/restore) or use it as the backing file of a qcow2 overlay \
            to boot a VM from its backup. Every chunk is verified before it is served; a damaged one fails its reads with EIO.
            """)

    @Argument(
        help: ArgumentHelp(
            "[SNAPSHOT] MOUNTPOINT: a snapshot id, a unique prefix or 'latest' (default: every snapshot), and an existing directory.",
            valueName: "snapshot-and-mountpoint"))
    var arguments: [String]

    @OptionGroup var repository: RepositoryOptions

    @OptionGroup var pointInTime: PointInTimeOptions

    @Option(name: .long, help: "Only this volume of SNAPSHOT.")
    var volume: String?

    @Option(name: .long, help: ArgumentHelp("Memory for verified chunks (e.g. 256M, 1G).", valueName: "size"))
    var cacheSize = "256M"

    @Option(
        name: .long,
        help: ArgumentHelp(
            "Largest read-ahead window for sequential readers (0 turns it off; default: a quarter of the cache, at most 64M).",
            valueName: "size"))
    var readAhead: String?

    @Flag(name: .long, help: "Let other users (e.g. a QEMU running as another user) read the mount.")
    var allowOther = false

    @Option(name: .long, help: .hidden)
    var fuseDevice = "/dev/fuse"

    func run() async throws {
        guard (1...2).contains(arguments.count) else {
            throw ValidationError("give a MOUNTPOINT, or a SNAPSHOT and a MOUNTPOINT")
        }
        let mountpoint = URL(fileURLWithPath: arguments[arguments.count - 1]).standardizedFileURL.path
        let snapshotText = arguments.count == 2 ? arguments[0] : nil
        if volume != nil && snapshotText == nil {
            throw ValidationError("--volume needs a SNAPSHOT (e.g. ferry mount latest MOUNTPOINT --volume NAME)")
        }
        guard let cacheBytes = BlockSize.parse(cacheSize), cacheBytes >= 16 << 20 else {
            throw ValidationError("--cache-size must be a size of at least 16M, e.g. 256M")
        }
        var readAheadBytes: Int64?
        if let readAhead {
            guard let parsed = readAhead == "0" ? 0 : BlockSize.parse(readAhead) else {
                throw ValidationError("--read-ahead must be a size, e.g. 64M, or 0")
            }
            readAheadBytes = Int64(parsed)
        }
        let options = SnapshotFileSystem.Options(cacheBytes: cacheBytes, readAhead: readAheadBytes)
        let log = MountLog { Terminal.error("ferry mount: \($0)") }
        HeapTuning.returnLargeBuffersToTheSystem()

        let repo = try await repository.open(pointInTime: try pointInTime.time())
        let fileSystem: SnapshotFileSystem
        let what: String
        if let snapshotText {
            let snapshot = try await repo.snapshot(matching: snapshotText)
            fileSystem = try SnapshotFileSystem(repository: repo, snapshot: snapshot, volume: volume, options: options, log: log)
            what = "snapshot \(snapshot.id.short) (\(snapshot.manifest.name))"
        } else {
            let (snapshots, problems) = try await repo.snapshots()
            for problem in problems { Terminal.error("warning: \(problem)") }
            fileSystem = SnapshotFileSystem(repository: repo, snapshots: snapshots, options: options, log: log)
            what = "\(snapshots.count) snapshot\(snapshots.count == 1 ? "" : "s")"
        }

        let serverOptions = FuseServer.Options(mountpoint: mountpoint, device: fuseDevice, allowOther: allowOther)
        let server = FuseServer(tree: fileSystem.tree, options: serverOptions, log: log)
        try server.mount()
        let signals = [SIGINT, SIGTERM, SIGHUP].map { number -> DispatchSourceSignal in
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler { server.stop() }
            source.resume()
            return source
        }
        defer { signals.forEach { $0.cancel() } }

        Terminal.error("ferry mount: \(what) of \(repo.location) at \(mountpoint), read-only; Ctrl-C or `umount \(mountpoint)` ends it")
        if let example = fileSystem.volumePaths.last {
            let file = mountpoint + "/" + example.path
            Terminal.error("ferry mount: restore files:  mkdir -p /mnt/restore && mount -o loop,ro \(file) /mnt/restore")
            Terminal.error("ferry mount: boot a VM:      qemu-img create -f qcow2 -b \(file) -F raw overlay.qcow2")
        }
        await server.run()
        Terminal.error("ferry mount: unmounted \(mountpoint)")
    }
}
