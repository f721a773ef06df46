import FerryBlob
import FerryMover
import FerryRepo
import FerryTestSupport
import FerryVolume
import Foundation

/// A repository in a temporary directory, with helpers to back up and restore files.
struct MoverFixture {
    let dir: TemporaryDirectory
    let store: LocalDirectoryStore
    let password = Array("mover-test".utf8)

    init(encrypted: Bool = true, repoRoot: String? = nil, packSize: Int = 32 << 20, pageEntries: Int = 4096) async throws {
        dir = try TemporaryDirectory("ferry-mover")
        store = try LocalDirectoryStore(root: repoRoot ?? dir.file("repo"), create: true)
        try await Repository.initialize(
            store: store, password: encrypted ? password : nil, packSize: packSize, blockMapPageEntries: pageEntries,
            kdf: Scrypt(n: 1 << 10, r: 8, p: 1))
    }

    func open() async throws -> Repository {
        try await Repository.open(store: store, password: password)
    }

    func backup(_ path: String, name: String? = nil, blockSize: Int = 64 << 10, parent: Snapshot? = nil, workers: Int = 3) async throws
        -> BackupResult
    {
        let source = try RawBlockSource(path: path)
        defer { source.close() }
        return try await backup(source, name: name ?? path, blockSize: blockSize, parent: parent, workers: workers)
    }

    func backup(_ source: any BlockSource, name: String, blockSize: Int = 64 << 10, parent: Snapshot? = nil, workers: Int = 3) async throws
        -> BackupResult
    {
        let repo = try await open()
        return try await VolumeBackup(
            source: source, repository: repo,
            request: BackupRequest(snapshotName: name, blockSize: blockSize, parent: parent, workers: workers)
        ).run()
    }

    func restore(_ snapshot: ChunkID, to target: String) async throws -> RestoreResult {
        let repo = try await open()
        let volume = try await repo.snapshot(id: snapshot).manifest.volumes[0]
        return try await VolumeRestore(repository: repo, volume: volume, target: target).run()
    }

    func snapshot(_ id: ChunkID) async throws -> Snapshot {
        try await open().snapshot(id: id)
    }

    func check(readData: Bool = true) async throws -> RepositoryChecker.Report {
        try await RepositoryChecker(repository: open(), dataCheck: readData ? .all : .none).run()
    }

    func remove() {
        dir.remove()
    }
}

/// Builds a test image: a sparse file with regions of random data, text, explicit zeros and holes.
struct ImageBuilder {
    var random: DeterministicBytes

    init(seed: UInt64) {
        random = DeterministicBytes(seed: seed)
    }

    /// Writes `layout` into a sparse file of `size` bytes: each (offset, kind, length).
    mutating func make(_ path: String, size: Int64, layout: [(Int64, Kind, Int)]) throws {
        try ImageFile.create(path, size: size)
        for (offset, kind, length) in layout {
            let bytes: [UInt8]
            switch kind {
            case .random: bytes = random.bytes(length)
            case .text: bytes = random.text(length)
            case .zeros: bytes = [UInt8](repeating: 0, count: length)
            }
            try ImageFile.write(path, at: offset, bytes)
        }
    }

    enum Kind { case random, text, zeros }
}
