import ArgumentParser
import FerryRepo
import Foundation

/// `ferry snapshots`: lists the snapshots of a repository.
struct SnapshotsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "snapshots",
        abstract: "List snapshots.")

    @OptionGroup var repository: RepositoryOptions

    @OptionGroup var pointInTime: PointInTimeOptions

    @Option(name: .long, help: "Only snapshots with this name.")
    var name: String?

    @Flag(name: .long, help: "Print a JSON array.")
    var json = false

    func run() async throws {
        // Listing reads manifests only: the chunk index (tens of MiB in a large repository) is not loaded.
        let repo = try await repository.open(loadIndex: false, pointInTime: try pointInTime.time())
        let (all, problems) = try await repo.snapshots()
        for problem in problems { Terminal.error("warning: \(problem)") }
        let snapshots = all.filter { name == nil || $0.manifest.name == name }
        if json {
            try Terminal.json(snapshots.map(SnapshotListing.init))
            return
        }
        let formatter = ISO8601DateFormatter()
        var rows = [["ID", "TIME", "SIZE", "OBJECTS", "PARENT", "NAME"]]
        for s in snapshots {
            let size = s.manifest.volumes.reduce(Int64(0)) { $0 + $1.size }
            rows.append([
                s.id.short, formatter.string(from: s.manifest.time), Format.bytes(size),
                s.manifest.resources.map { String($0.count) } ?? "-",
                String((s.manifest.parent ?? "-").prefix(8)), s.manifest.name,
            ])
        }
        Terminal.table(rows)
    }
}

/// One entry of `ferry snapshots --json`.
struct SnapshotListing: Encodable {
    var id: String
    var time: Date
    var name: String
    var hostname: String
    var parent: String?
    var tags: [String: String]
    var volumes: [Volume]
    /// The Kubernetes objects captured (an application backup).
    var resources: ResourceManifest?

    struct Volume: Encodable {
        var name: String
        var source: String
        var format: String
        var size: Int64
        var blockSize: Int
        var cbtProvider: String?
        var stats: VolumeStats
    }

    init(_ snapshot: Snapshot) {
        id = snapshot.id.hex
        time = snapshot.manifest.time
        name = snapshot.manifest.name
        hostname = snapshot.manifest.hostname
        parent = snapshot.manifest.parent
        tags = snapshot.manifest.tags
        resources = snapshot.manifest.resources
        volumes = snapshot.manifest.volumes.map {
            Volume(
                name: $0.name, source: $0.source, format: $0.format, size: $0.size, blockSize: $0.blockSize,
                cbtProvider: $0.changeTracking?.provider, stats: $0.stats)
        }
    }
}
