import FerryBlob
import FerryTestSupport
import Foundation
import Testing

@testable import FerryRepo

@Suite("Repository lifecycle")
struct RepositoryTests {
    let password = Array("correct horse".utf8)
    static let fastKDF = Scrypt(n: 1 << 10, r: 8, p: 1)

    @Test func initOpenAndWrongPassword() async throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let store = try LocalDirectoryStore(root: dir.path)
        let config = try await Repository.initialize(store: store, password: password, kdf: Self.fastKDF)
        #expect(config.isEncrypted)
        let repo = try await Repository.open(store: store, password: password)
        #expect(repo.config == config)
        #expect(repo.isEncrypted)
        await #expect { try await Repository.open(store: store, password: Array("wrong".utf8)) } throws: { error in
            guard case RepositoryError.wrongPassword = error else { return false }
            return true
        }
        await #expect { try await Repository.open(store: store, password: nil) } throws: { error in
            guard case RepositoryError.passwordRequired = error else { return false }
            return true
        }
        await #expect { try await Repository.initialize(store: store, password: password, kdf: Self.fastKDF) } throws: { error in
            guard case RepositoryError.alreadyInitialized = error else { return false }
            return true
        }
    }

    @Test func notARepository() async throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let store = try LocalDirectoryStore(root: dir.path)
        let error = await #expect(throws: RepositoryError.self) { try await Repository.open(store: store, password: password) }
        #expect(error?.description.contains("not a Ferry repository") == true)
    }

    @Test func alteredConfigIsDetected() async throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let store = try LocalDirectoryStore(root: dir.path)
        try await Repository.initialize(store: store, password: password, kdf: Self.fastKDF)
        let path = dir.file("config")
        var text = try String(contentsOfFile: path, encoding: .utf8)
        text = text.replacingOccurrences(of: "\"blockSize\":1048576", with: "\"blockSize\":2097152")
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        let error = await #expect(throws: RepositoryError.self) { try await Repository.open(store: store, password: password) }
        #expect(error?.description.contains("config") == true)
    }

    @Test func configDowngradedToUnencryptedIsDetected() async throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let store = try LocalDirectoryStore(root: dir.path)
        try await Repository.initialize(store: store, password: password, kdf: Self.fastKDF)
        let path = dir.file("config")
        var text = try String(contentsOfFile: path, encoding: .utf8)
        text = text.replacingOccurrences(of: "\"aes-256-gcm\"", with: "\"none\"").replacingOccurrences(
            of: "\"hmac-sha256\"", with: "\"sha256\"")
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        await #expect(throws: RepositoryError.self) { try await Repository.open(store: store, password: nil) }
    }

    @Test func unencryptedRepositoryNeedsNoPassword() async throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let store = try LocalDirectoryStore(root: dir.path)
        let config = try await Repository.initialize(store: store, password: nil)
        #expect(!config.isEncrypted)
        #expect(config.chunkID == "sha256")
        let repo = try await Repository.open(store: store, password: nil)
        #expect(!repo.isEncrypted)
    }

    @Test func metadataChunksRoundTripThroughASession() async throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let store = try LocalDirectoryStore(root: dir.path)
        try await Repository.initialize(store: store, password: password, kdf: Self.fastKDF)
        let repo = try await Repository.open(store: store, password: password)
        let session = try await repo.beginSession()
        var random = DeterministicBytes(seed: 8)
        let page = BlockMapPage(entries: (0..<4096).map { $0 % 5 == 0 ? .zero : ChunkID(random.bytes(32)) })
        let id = try await session.storeMetadata(page.encode())
        #expect(try await session.storeMetadata(page.encode()) == id)
        let volume = VolumeManifest(
            name: "disk", source: "x", format: "raw", size: 4096 << 20, blockSize: 1 << 20, pageEntries: 4096, pages: [id],
            changeTracking: nil, stats: VolumeStats())
        let manifest = SnapshotManifest(time: Date(), name: "t", hostname: "h", parent: nil, session: session.id, volumes: [volume])
        let (snapshotID, stored) = try await session.commit(manifest)
        #expect(stored > 0)
        // The session marker is gone after commit.
        #expect(try await store.list(prefix: "sessions/").isEmpty)
        let reopened = try await Repository.open(store: store, password: password)
        let snapshot = try await reopened.snapshot(matching: String(snapshotID.hex.prefix(6)))
        #expect(snapshot.id == snapshotID)
        #expect(try await reopened.blockMapPage(snapshot.manifest.volumes[0], page: 0) == page)
    }

    /// A prune gives up on a session whose marker expired; refreshing the marker afterwards
    /// must not revive the session (it would commit chunks the prune is deleting).
    @Test func aSessionWhoseMarkerLapsedNeverCommits() async throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let store = try LocalDirectoryStore(root: dir.path)
        try await Repository.initialize(store: store, password: password, kdf: Self.fastKDF)
        let repo = try await Repository.open(store: store, password: password)
        let session = try await repo.beginSession(lease: .seconds(2))
        session.stopRefreshing()
        func marker() async throws -> SessionMarker {
            try Repository.decoder.decode(SessionMarker.self, from: Data(try await store.get(ObjectName.session(session.id))))
        }
        let written = try await marker()
        while written.expires.timeIntervalSinceNow >= 0 {
            try await Task.sleep(for: .milliseconds(50))
        }
        #expect(await session.refreshMarker() == false)
        #expect(try await marker().refreshed == written.refreshed, "a lapsed session wrote its marker again")
        let manifest = SnapshotManifest(time: Date(), name: "t", hostname: "h", parent: nil, session: session.id, volumes: [])
        await #expect { try await session.commit(manifest) } throws: { error in
            guard case RepositoryError.sessionExpired = error else { return false }
            return true
        }
        #expect(try await store.list(prefix: "snapshots/").isEmpty)
    }
}

@Suite("Local directory store")
struct LocalDirectoryStoreTests {
    @Test func createOnlyNeverReplaces() async throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let store = try LocalDirectoryStore(root: dir.path)
        #expect(try await store.put("packs/ab/abc", [1, 2, 3]) == .created)
        #expect(try await store.put("packs/ab/abc", [1, 2, 3]) == .alreadyExists)
        await #expect(throws: ObjectStoreError.self) { try await store.put("packs/ab/abc", [9, 9, 9]) }
        #expect(try await store.get("packs/ab/abc") == [1, 2, 3])
        try await store.put("sessions/s", [1], mode: .replace)
        try await store.put("sessions/s", [2], mode: .replace)
        #expect(try await store.get("sessions/s") == [2])
    }

    @Test func listRangeHeadDelete() async throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let store = try LocalDirectoryStore(root: dir.path)
        for i in 0..<20 { try await store.put("packs/\(i % 3)\(i % 3)/p\(i)", Array(repeating: UInt8(i), count: i + 1)) }
        try await store.put("index/i1", [1])
        let packs = try await store.list(prefix: "packs/")
        #expect(packs.count == 20)
        #expect(Set(packs.map(\.name)).contains("packs/11/p4"))
        #expect(packs.first { $0.name == "packs/11/p4" }?.size == 5)
        #expect(try await store.list(prefix: "index/").map(\.name) == ["index/i1"])
        #expect(try await store.list(prefix: "nothing/").isEmpty)
        #expect(try await store.get("packs/11/p4", range: 1..<3) == [4, 4])
        await #expect(throws: ObjectStoreError.self) { try await store.get("packs/11/p4", range: 3..<9) }
        await #expect(throws: ObjectStoreError.self) { try await store.get("packs/none") }
        #expect(try await store.head("packs/11/p4")?.size == 5)
        #expect(try await store.head("packs/11/zz") == nil)
        try await store.delete(["packs/11/p4", "packs/11/missing"])
        #expect(try await store.head("packs/11/p4") == nil)
    }

    @Test func rejectsNamesThatEscapeTheRoot() async throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let store = try LocalDirectoryStore(root: dir.path)
        for name in ["../x", "a/../../x", "/abs", "", "a//b", ".hidden"] {
            await #expect(throws: ObjectStoreError.self) { try await store.put(name, [1]) }
        }
    }

    @Test func missingDirectoryIsAClearError() throws {
        #expect(throws: ObjectStoreError.self) { try LocalDirectoryStore(root: "/nonexistent/ferry/repo") }
    }
}
