import FerryBlob

/// Sizes and counts of a repository (`ferry stats`).
public struct RepositoryStats: Codable, Sendable {
    public var snapshots = 0
    /// Sum of the volume sizes of all snapshots.
    public var logicalBytes: Int64 = 0
    /// Distinct chunks in the index, and their plaintext size.
    public var chunks = 0
    public var chunkBytes: Int64 = 0
    /// Chunk records' stored size (after compression and encryption).
    public var storedChunkBytes: Int64 = 0
    public var packs = 0
    public var packBytes: Int64 = 0
    public var indexObjects = 0
    public var indexBytes: Int64 = 0
    public var snapshotBytes: Int64 = 0

    /// Total bytes the repository occupies.
    public var totalBytes: Int64 { packBytes + indexBytes + snapshotBytes }

    public static func gather(_ repository: Repository) async throws -> RepositoryStats {
        var stats = RepositoryStats()
        let store = repository.store
        let (snapshots, _) = try await repository.snapshots()
        stats.snapshots = snapshots.count
        stats.logicalBytes = snapshots.reduce(0) { $0 + $1.manifest.volumes.reduce(0) { $0 + $1.size } }
        repository.index.forEach { _, location, _ in
            stats.chunks += 1
            stats.chunkBytes += Int64(location.rawLength)
            stats.storedChunkBytes += Int64(location.length)
        }
        let packs = try await Repository.wrap { try await store.list(prefix: ObjectName.packsPrefix) }
        stats.packs = packs.count
        stats.packBytes = packs.reduce(0) { $0 + $1.size }
        let indexes = try await Repository.wrap { try await store.list(prefix: ObjectName.indexPrefix) }
        stats.indexObjects = indexes.count
        stats.indexBytes = indexes.reduce(0) { $0 + $1.size }
        stats.snapshotBytes = try await Repository.wrap { try await store.list(prefix: ObjectName.snapshotsPrefix) }.reduce(0) {
            $0 + $1.size
        }
        return stats
    }
}
