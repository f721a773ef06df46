import FerryBlob
import FerryBlobTestSupport
import Foundation
import Testing

@testable import FerryRepo

/// Store errors that say nothing about what was asked (EIO, a server failing) must never be read
/// as "absent", "ended" or "free": each case below was once one.
@Suite("Repository under store faults")
struct StoreFaultTests {
    static let password = Array("store-fault-test".utf8)
    static let eio = ObjectStoreError.io(store: "memory://test", detail: "Input/output error (EIO, injected)")

    func repository() async throws -> (FaultInjectingStore, Repository) {
        let store = FaultInjectingStore(InMemoryStore())
        try await Repository.initialize(store: store, password: Self.password, kdf: Scrypt(n: 1 << 10, r: 8, p: 1))
        return (store, try await Repository.open(store: store, password: Self.password))
    }

    static func isEIO(_ error: any Error) -> Bool {
        guard case RepositoryError.store(.io(_, let detail)) = error else { return false }
        return detail.contains("EIO")
    }

    @Test func aPruneLockThatCannotBeReadIsNotFree() async throws {
        let (store, _) = try await repository()
        let held = try await PruneLock.acquire(store: store)
        store.inject(.init(.get, nameContains: "locks/prune-", error: Self.eio))
        await #expect("a second prune must not take the lock it could not read") {
            _ = try await PruneLock.acquire(store: store)
        } throws: { Self.isEIO($0) }
        #expect(try await store.list(prefix: "locks/").count == 1)
        // With the store answering, the holder is seen as such.
        await #expect(throws: RepositoryError.self) { _ = try await PruneLock.acquire(store: store) }
        await held.release()
        let next = try await PruneLock.acquire(store: store)
        await next.release()
    }

    @Test func aCommitWhoseMarkerCannotBeReadSaysSo() async throws {
        let (store, repository) = try await repository()
        let session = try await repository.beginSession()
        _ = try await session.storeMetadata(Array(repeating: 7, count: 1000))
        store.inject(.init(.get, nameContains: ObjectName.sessionsPrefix, error: Self.eio))
        let manifest = SnapshotManifest(time: Date(), name: "x", hostname: "test", parent: nil, session: session.id, volumes: [])
        await #expect("the store failed; the session did not expire") {
            _ = try await session.commit(manifest)
        } throws: { Self.isEIO($0) }
        #expect(try await store.list(prefix: ObjectName.snapshotsPrefix).isEmpty, "nothing committed")
        await session.end()
    }

    @Test func aTombstoneIndexThatCannotBeReadKeepsItsMark() async throws {
        let (store, repository) = try await repository()
        // An unreferenced chunk: stored by a session that ended without a snapshot.
        let writer = try await repository.beginSession()
        _ = try await writer.storeMetadata((0..<10_000).map { UInt8(truncatingIfNeeded: $0 &* 31) })
        try await writer.flush()
        await writer.end()
        // A live session makes the mark wait.
        let live = try await repository.beginSession()
        let first = try await Pruner(store: store, credential: .password(Self.password), abandonedBefore: nil).run()
        #expect(first.marksWaiting == 1)
        await live.end()
        let markName = try #require(try await store.list(prefix: "prune/marks/").first?.name)
        let mark = try Repository.decoder.decode(PruneMark.self, from: Data(try await store.get(markName)))

        // The sweep opens the repository (reading every index object once), then reads the
        // tombstone index again: the second read fails.
        store.inject(.init(.get, nameContains: mark.tombstoneIndex, skip: 1, error: Self.eio))
        await #expect("the sweep cannot tell what the mark tombstoned: it must stop, not discard the mark") {
            _ = try await Pruner(store: store, credential: .password(Self.password), abandonedBefore: nil).run()
        } throws: { Self.isEIO($0) }
        #expect(store.faultsStruck == 1)
        #expect(try await store.head(markName) != nil, "the mark stays for the next prune")
        store.removeAllFaults()

        let sweep = try await Pruner(store: store, credential: .password(Self.password), abandonedBefore: nil).run()
        #expect(sweep.marksSwept == 1)
        #expect(sweep.packsDeleted == 1)
        #expect(try await store.list(prefix: "prune/marks/").isEmpty)
    }
}
