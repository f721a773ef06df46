import FerryKube
import FerryRepo
import Foundation

/// The read-only file system `ferry mount` serves: snapshots as directories, each volume as a
/// file of its raw bytes (exact size), an application's captured objects as YAML.
///
/// A whole repository:
/// ```
/// ids/<id>/            one directory per snapshot (short id, the full id if two share one)
///     disk.raw         a volume (a volume named shop/data is shop/data.raw)
///     resources/       captured objects: <namespace or _cluster>/<resource[.group]>/<name>.yaml, all.yaml
/// snapshots/<time>     -> ../ids/<id>          (UTC, e.g. 2025-01-31T02:00:00Z), snapshots/latest
/// names/<name>/<time>  -> ../../ids/<id>       per snapshot name, names/<name>/latest
/// latest               -> ids/<id> of the newest snapshot
/// ```
/// One snapshot: its directory's content at the root (or only the one volume asked for).
public final class SnapshotFileSystem: Sendable {
    public struct Options: Sendable {
        /// Bytes of verified chunks kept in memory.
        public var cacheBytes: Int
        /// Largest read-ahead window for a sequential reader (0: none).
        public var readAhead: Int64
        /// Pack reads in flight at once.
        public var concurrency: Int

        public static let defaultCacheBytes = 256 << 20

        public init(cacheBytes: Int = Options.defaultCacheBytes, readAhead: Int64? = nil, concurrency: Int = 8) {
            self.cacheBytes = cacheBytes
            // The window must leave the cache room for what readers are using.
            self.readAhead = readAhead ?? min(64 << 20, Int64(cacheBytes / 4))
            self.concurrency = concurrency
        }
    }

    public let repository: Repository
    public let tree: MountTree
    public let fetcher: ChunkFetcher
    let pages: FlightCache<ChunkID, [ChunkID]>
    public let options: Options
    /// Each exposed volume file: its path in the tree, its manifest and its reader.
    public let volumePaths: [(path: String, volume: VolumeManifest, reader: VolumeReader)]

    /// The whole repository: every snapshot in `snapshots`.
    public convenience init(repository: Repository, snapshots: [Snapshot], options: Options = Options(), log: MountLog) {
        self.init(repository: repository, options: options, log: log) { context in
            Self.repositoryLayout(snapshots, context: context)
        }
    }

    /// One snapshot at the root; with `volume`, only that volume.
    public convenience init(
        repository: Repository, snapshot: Snapshot, volume: String?, options: Options = Options(),
        log: MountLog
    ) throws {
        if let volume, !snapshot.manifest.volumes.contains(where: { $0.name == volume }) {
            let names = snapshot.manifest.volumes.map(\.name)
            let has = names.isEmpty ? "none" : names.joined(separator: ", ")
            throw MountError.notFound("snapshot \(snapshot.id.short) has no volume \(volume) (it has: \(has))")
        }
        self.init(repository: repository, options: options, log: log) { context in
            (snapshot.manifest.time, context.snapshotEntries(snapshot, only: volume, under: ""))
        }
    }

    private init(repository: Repository, options: Options, log: MountLog, layout: (LayoutContext) -> (Date, [MountEntry])) {
        self.repository = repository
        self.options = options
        fetcher = ChunkFetcher(repository: repository, cacheBytes: options.cacheBytes, concurrency: options.concurrency, log: log)
        pages = FlightCache(capacity: VolumeReader.defaultPageCacheBytes) { $0.count * 32 }
        let context = LayoutContext(repository: repository, fetcher: fetcher, pages: pages, readAhead: options.readAhead)
        let (time, entries) = layout(context)
        tree = MountTree(root: .directory(entries), time: time)
        volumePaths = context.volumes
    }

    // MARK: - Layout

    static func timeName(_ date: Date) -> String {
        date.formatted(Date.ISO8601FormatStyle(timeZone: TimeZone(identifier: "UTC")!))
    }

    private static func repositoryLayout(_ snapshots: [Snapshot], context: LayoutContext) -> (Date, [MountEntry]) {
        let sorted = snapshots.sorted { ($0.manifest.time, $0.id) < ($1.manifest.time, $1.id) }
        var shortCounts: [String: Int] = [:]
        for snapshot in sorted { shortCounts[snapshot.id.short, default: 0] += 1 }
        var ids = DirectoryBuilder()
        var times = DirectoryBuilder()
        var names: [String: DirectoryBuilder] = [:]
        var nameOrder: [String] = []
        var newestTime: [String: String] = [:]
        var latest: (id: String, time: String)?
        for snapshot in sorted {
            let time = snapshot.manifest.time
            let id = shortCounts[snapshot.id.short]! > 1 ? snapshot.id.hex : snapshot.id.short
            ids.add([id], time: time, .directory(context.snapshotEntries(snapshot, only: nil, under: "ids/\(id)/")))
            let timeEntry = times.add([Self.timeName(time)], time: time, .symlink("../ids/\(id)"))
            let name = DirectoryBuilder.safe(snapshot.manifest.name.split(separator: "/").joined(separator: "_"))
            if names[name] == nil {
                names[name] = DirectoryBuilder()
                nameOrder.append(name)
            }
            newestTime[name] = names[name]!.add([timeEntry], time: time, .symlink("../../ids/\(id)"))
            latest = (id, timeEntry)
        }
        var nameEntries: [MountEntry] = []
        for name in nameOrder {
            var builder = names[name]!
            builder.add(["latest"], .symlink(newestTime[name]!))
            nameEntries.append(MountEntry(name, .directory(builder.entries)))
        }
        var root: [MountEntry] = [
            MountEntry("ids", .directory(ids.entries)),
            MountEntry("names", .directory(nameEntries)),
        ]
        var timeEntries = times.entries
        if let latest {
            timeEntries.append(MountEntry("latest", .symlink(latest.time)))
            root.append(MountEntry("latest", .symlink("ids/\(latest.id)")))
        }
        root.insert(MountEntry("snapshots", .directory(timeEntries)), at: 1)
        return (sorted.last?.manifest.time ?? Date(), root)
    }
}

/// What building the tree needs, and the volume files it exposed.
final class LayoutContext {
    let repository: Repository
    let fetcher: ChunkFetcher
    let pages: FlightCache<ChunkID, [ChunkID]>
    let readAhead: Int64
    var volumes: [(path: String, volume: VolumeManifest, reader: VolumeReader)] = []

    init(repository: Repository, fetcher: ChunkFetcher, pages: FlightCache<ChunkID, [ChunkID]>, readAhead: Int64) {
        self.repository = repository
        self.fetcher = fetcher
        self.pages = pages
        self.readAhead = readAhead
    }

    /// A snapshot directory's entries: its volumes as `<name>.raw`, its captured objects under `resources/`.
    func snapshotEntries(_ snapshot: Snapshot, only volume: String?, under prefix: String) -> [MountEntry] {
        var builder = DirectoryBuilder()
        for manifest in snapshot.manifest.volumes where volume == nil || manifest.name == volume {
            var components = manifest.name.split(separator: "/", omittingEmptySubsequences: true).map(String.init)
            if components.isEmpty { components = ["volume"] }
            components[components.count - 1] += ".raw"
            let reader = VolumeReader(volume: manifest, fetcher: fetcher, pages: pages, readAhead: readAhead)
            let name = builder.add(components, .volume(reader))
            let directory = components.dropLast().map(DirectoryBuilder.safe)
            volumes.append(((prefix + (directory + [name]).joined(separator: "/")), manifest, reader))
        }
        if volume == nil, let resources = snapshot.manifest.resources {
            let repository = self.repository
            builder.add(["resources"], .lazyDirectory { try await ResourceFiles.entries(resources, repository: repository) })
        }
        return builder.entries
    }
}
