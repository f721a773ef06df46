import FerryBlob
import FerryBlobTestSupport
import FerryMover
import FerryRepo
import FerryTestSupport
import FerryVolume
import Foundation
import Testing

/// Prune while a backup session is alive and the store fails in ways that say nothing about the
/// session (EIO on its marker): the session must be taken as alive, never as ended.
@Suite("Prune under store faults")
struct PruneUnderStoreFaultsTests {
    static let password = Array("prune-fault-test".utf8)

    struct Setup {
        let dir: TemporaryDirectory
        let store: FaultInjectingStore
        let image: String
    }

    /// A repository on a directory behind a fault-injecting wrapper, holding one backup of `image`.
    func setup() async throws -> Setup {
        let dir = try TemporaryDirectory("ferry-prune-faults")
        let store = FaultInjectingStore(try LocalDirectoryStore(root: dir.file("repo"), create: true))
        try await Repository.initialize(store: store, password: Self.password, kdf: Scrypt(n: 1 << 10, r: 8, p: 1))
        let image = dir.file("disk.img")
        var builder = ImageBuilder(seed: 91)
        try builder.make(image, size: 2 << 20, layout: [(0, .random, 2 << 20)])
        return Setup(dir: dir, store: store, image: image)
    }

    func backup(_ image: String, in session: WriteSession) async throws -> VolumeManifest {
        let source = try RawBlockSource(path: image)
        defer { source.close() }
        return try await VolumeBackup(
            source: source, repository: session.repository,
            request: BackupRequest(
                snapshotName: "disk",
                blockSize: 64 << 10, workers: 2)
        )
        .store(in: session).0
    }

    @Test func anUnreadableSessionMarkerKeepsTheMarkWaiting() async throws {
        let setup = try await setup()
        defer { setup.dir.remove() }
        let store = setup.store
        // The first backup, then forgotten: its chunks are unreferenced.
        let first = try await backupAndCommit(setup)
        try await store.delete([ObjectName.snapshot(first)])

        // A second backup of the same content dedups against those chunks and is still running
        // (stored and flushed, not committed) when prune comes.
        let repository = try await Repository.open(store: store, password: Self.password, loadIndex: false)
        let session = try await repository.beginSession()
        let volume = try await backup(setup.image, in: session)
        #expect(volume.stats.dedupBlocks == 32)
        #expect(volume.stats.newBlocks == 0)

        // Reading its marker fails with EIO: that says nothing about the session.
        store.inject(
            .init(
                .get, nameContains: ObjectName.sessionsPrefix, times: .max,
                error: ObjectStoreError.io(store: store.location, detail: "read: Input/output error (EIO, injected)")))
        let packs = try await store.list(prefix: ObjectName.packsPrefix).map(\.name).sorted()
        let report = try await Pruner(store: store, credential: .password(Self.password), abandonedBefore: nil).run()
        #expect(report.chunksMarked >= 32)
        #expect(report.marksWaiting == 1)
        #expect(report.marksSwept == 0)
        #expect(report.packsDeleted == 0)
        #expect(report.waitingFor == [session.id])
        #expect(report.sessionProblems.count == 1)
        #expect(report.sessionProblems.first?.contains("EIO") == true, "\(report.sessionProblems)")
        #expect(try await store.list(prefix: ObjectName.packsPrefix).map(\.name).sorted() == packs, "nothing deleted")
        #expect(store.faultsStruck >= 1)
        store.removeAllFaults()

        // The backup commits; the snapshot is whole and restores byte-identical.
        let manifest = SnapshotManifest(
            time: Date(), name: "disk", hostname: "test", parent: nil, session: session.id,
            volumes: [volume], tags: [:])
        let (snapshot, _) = try await session.commit(manifest)
        try await expectWholeAndRestorable(snapshot, setup)

        // Once the store answers, the next prune sweeps: it keeps what the snapshot references.
        let sweep = try await Pruner(store: store, credential: .password(Self.password), abandonedBefore: nil).run()
        #expect(sweep.marksSwept == 1)
        #expect(sweep.chunksRevived >= 32)
        #expect(sweep.sessionProblems.isEmpty)
        try await expectWholeAndRestorable(snapshot, setup)
    }

    @Test func aMissingSessionMarkerStillEndsTheSession() async throws {
        let setup = try await setup()
        defer { setup.dir.remove() }
        let first = try await backupAndCommit(setup)
        try await setup.store.delete([ObjectName.snapshot(first)])
        let repository = try await Repository.open(store: setup.store, password: Self.password, loadIndex: false)
        let session = try await repository.beginSession()
        _ = try await backup(setup.image, in: session)
        // The marker is gone (the writer ended without committing): a definite answer.
        await session.end()
        let report = try await Pruner(store: setup.store, credential: .password(Self.password), abandonedBefore: nil).run()
        #expect(report.marksWaiting == 0)
        #expect(report.marksSwept == 1)
        #expect(report.packsDeleted >= 1)
        #expect(report.sessionProblems.isEmpty)
    }

    func backupAndCommit(_ setup: Setup) async throws -> ChunkID {
        let repository = try await Repository.open(store: setup.store, password: Self.password)
        let source = try RawBlockSource(path: setup.image)
        defer { source.close() }
        return try await VolumeBackup(
            source: source, repository: repository,
            request: BackupRequest(
                snapshotName: "disk", blockSize: 64 << 10,
                workers: 2)
        )
        .run().snapshot
    }

    func expectWholeAndRestorable(_ snapshot: ChunkID, _ setup: Setup, sourceLocation: SourceLocation = #_sourceLocation) async throws {
        let repository = try await Repository.open(store: setup.store, password: Self.password)
        let check = try await RepositoryChecker(repository: repository, dataCheck: .all).run()
        #expect(check.errors == [], sourceLocation: sourceLocation)
        let target = setup.dir.file("restored-\(UInt32.random(in: 0...UInt32.max)).img")
        let volume = try await repository.snapshot(id: snapshot).manifest.volumes[0]
        _ = try await VolumeRestore(repository: repository, volume: volume, target: target).run()
        #expect(try ImageFile.identical(setup.image, target), sourceLocation: sourceLocation)
    }
}
