import FerryBlob
import FerrySystem
import Foundation
import Synchronization

/// One writer's view of a repository while it adds data: it decides which chunks must be
/// stored, uploads packs, emits index objects every few packs (so a crashed writer's uploads
/// still dedup on the rerun), stores metadata chunks, and finally commits a snapshot manifest.
///
/// Commit order: packs → index → block-map pages (metadata pack, then its index) → manifest.
/// Several sessions may write to one repository at once without locks: each writes only its own
/// new objects, and duplicate chunks between them are legal.
public final class WriteSession: Sendable {
    public let id: String
    public let repository: Repository
    /// How many data packs may be stored before an index object is written.
    public let indexEveryPacks: Int
    /// How long stored packs may wait for an index object.
    public let indexEvery: Duration
    /// Session marker lease.
    public let lease: Duration
    /// The compression of the chunks this session stores; nil for the repository's default.
    public let compression: Compression?

    private let state: Mutex<State>
    private let refresher: Mutex<Task<Void, Never>?>
    /// When the last marker this session wrote expires; nil once a refresh came too late. A
    /// prune may give up on a session whose marker expired, so such a session never commits,
    /// even if a later refresh would put its marker back.
    private let markerExpiry: Mutex<Date?>
    private let uploads = UploadQueue(limit: 3)
    /// Byte arrays of uploaded data packs, kept for the next builders: a fresh 32 MiB array
    /// costs ~8,000 page faults and zero-fills before it is written.
    private let spareBuffers = Mutex<[[UInt8]]>([])
    private let started: Date

    struct State: ~Copyable {
        /// Chunks this session has stored or is storing.
        var claimed: Set<ChunkID> = []
        /// Packs stored but not yet listed in an index object.
        var unindexed: [SealedPackInfo] = []
        var lastIndex = ContinuousClock.now
        var metadata: PackBuilder?
        var bytesStored: Int64 = 0
        var indexObjects = 0
        var packs = 0
    }

    struct SealedPackInfo: Sendable {
        var pack: IndexObject.Pack
        var entries: [PackEntry]
    }

    private init(repository: Repository, id: String, indexEveryPacks: Int, indexEvery: Duration, lease: Duration, compression: Compression?)
    {
        self.repository = repository
        self.compression = compression
        self.id = id
        self.indexEveryPacks = indexEveryPacks
        self.indexEvery = indexEvery
        self.lease = lease
        self.started = Date()
        self.state = Mutex(State())
        self.refresher = Mutex(nil)
        self.markerExpiry = Mutex(nil)
    }

    /// Announces the session with its marker, then reads the index: a prune that marks after
    /// this point sees the marker and waits for the session; one that marked before has already
    /// written its tombstones, which this session then sees (design §3).
    static func begin(
        repository: Repository, indexEveryPacks: Int = 8, indexEvery: Duration = .seconds(60), lease: Duration = .seconds(900),
        compression: Compression? = nil
    ) async throws -> WriteSession {
        let id = SecureRandom.hex(16)
        let announcing = WriteSession(
            repository: repository, id: id, indexEveryPacks: indexEveryPacks, indexEvery: indexEvery, lease: lease, compression: compression
        )
        let expires = try await announcing.writeMarker(mode: .createOnly)
        let session: WriteSession
        do {
            session = WriteSession(
                repository: try await repository.reopened(), id: id, indexEveryPacks: indexEveryPacks, indexEvery: indexEvery, lease: lease,
                compression: compression)
        } catch {
            await announcing.end()
            throw error
        }
        session.markerExpiry.withLock { $0 = expires }
        let refresh = Task { [weak session] in
            while !Task.isCancelled {
                guard let interval = session?.lease else { return }
                try? await Task.sleep(for: interval / 3)
                guard !Task.isCancelled, let session, await session.refreshMarker() else { return }
            }
        }
        session.refresher.withLock { $0 = refresh }
        return session
    }

    /// Writes the marker; returns when it expires.
    private func writeMarker(mode: PutMode) async throws -> Date {
        let now = Date()
        let marker = SessionMarker(
            id: id, hostname: ProcessInfo.processInfo.hostName, pid: ProcessInfo.processInfo.processIdentifier,
            started: started, refreshed: now, expires: now.addingTimeInterval(Double(lease.components.seconds)))
        let bytes = try [UInt8](Repository.encoder.encode(marker))
        try await Repository.wrap { try await repository.store.put(ObjectName.session(id), bytes, mode: mode) }
        return marker.expires
    }

    /// Extends the marker's lease. Returns false, and leaves the marker alone, once the session
    /// has lapsed: the previous marker expired before this refresh was written, so a prune may
    /// already have treated the session as dead (writing the marker again would hide that).
    func refreshMarker() async -> Bool {
        guard let previous = markerExpiry.withLock({ $0 }), Date() < previous else {
            markerExpiry.withLock { $0 = nil }
            return false
        }
        guard let expires = try? await writeMarker(mode: .replace) else { return true }
        // The write may have landed after `previous` (a stalled process): the session lapsed.
        let intime = Date() < previous
        markerExpiry.withLock { $0 = intime && $0 != nil ? expires : nil }
        return intime
    }

    // MARK: - Data chunks

    /// Whether the caller must store chunk `id`: false when the repository already holds it or
    /// another worker of this session is storing it.
    public func claim(_ id: ChunkID) -> Bool {
        if repository.index.contains(id) { return false }
        return state.withLock { $0.claimed.insert(id).inserted }
    }

    /// Whether the repository (as opened) or this session holds chunk `id`.
    public func holds(_ id: ChunkID) -> Bool {
        repository.index.contains(id) || state.withLock { $0.claimed.contains(id) }
    }

    /// A builder for a data pack, for one worker to fill.
    public func makeDataPack(maxChunk: Int) -> PackBuilder {
        let spare = spareBuffers.withLock { $0.popLast() } ?? []
        return repository.newPackBuilder(kind: .data, maxChunk: maxChunk, compression: compression, buffer: consume spare)
    }

    /// Seals a filled pack and uploads it in the background (at most `uploads.limit` at once),
    /// then records it for the next index object.
    public func store(_ builder: PackBuilder) async throws {
        let sealed = PackHandoff(builder.seal())
        try await uploads.submit { [self] in try await upload(sealed) }
    }

    private func upload(_ handoff: PackHandoff) async throws {
        let bytes = handoff.takeBytes()
        let pack = handoff.pack
        try await Repository.wrap { try await repository.store.put(pack.name, bytes) }
        let size = bytes.count
        if pack.kind == .data { recycle(bytes) }
        let info = SealedPackInfo(
            pack: IndexObject.Pack(id: pack.id, salt: pack.salt, kind: pack.kind, size: UInt32(size)), entries: pack.entries)
        let due: [SealedPackInfo]? = state.withLock { state in
            state.bytesStored += Int64(size)
            state.packs += 1
            state.unindexed.append(info)
            guard state.unindexed.count >= indexEveryPacks || ContinuousClock.now - state.lastIndex >= indexEvery else { return nil }
            state.lastIndex = ContinuousClock.now
            defer { state.unindexed = [] }
            return state.unindexed
        }
        if pack.kind == .data { FaultPoint.packStored.reach() }
        if let due { try await writeIndex(due) }
    }

    /// Keeps an uploaded pack's array for the next builder. (Should a store still hold a
    /// reference, emptying it allocates a new array instead: no worse than not recycling.)
    private func recycle(_ bytes: consuming [UInt8]) {
        var bytes = bytes
        guard bytes.capacity >= repository.config.packSize else { return }
        bytes.removeAll(keepingCapacity: true)
        spareBuffers.withLock { spares in
            if spares.count < Self.maxSpareBuffers { spares.append(bytes) }
        }
    }

    static let maxSpareBuffers = 2

    private func writeIndex(_ packs: [SealedPackInfo]) async throws {
        guard !packs.isEmpty else { return }
        var entries: [IndexObject.Entry] = []
        for (number, info) in packs.enumerated() {
            for e in info.entries {
                entries.append(
                    IndexObject.Entry(
                        id: e.id, pack: UInt32(number), offset: e.offset, length: e.length, rawLength: e.rawLength, isTombstone: false))
            }
        }
        let object = IndexObject(created: Date(), session: Array(id.utf8.prefix(16)), packs: packs.map(\.pack), entries: entries)
        let (name, bytes) = repository.sealIndex(object)
        try await Repository.wrap { try await repository.store.put(name, bytes) }
        state.withLock {
            $0.bytesStored += Int64(bytes.count)
            $0.indexObjects += 1
        }
        FaultPoint.indexStored.reach()
    }

    // MARK: - Metadata chunks

    /// Stores a metadata chunk (a block-map page, captured resources) unless the repository
    /// already holds it, and returns its id.
    public func storeMetadata(_ bytes: [UInt8]) async throws -> ChunkID {
        let id = repository.hasher.id(of: bytes)
        guard claim(id) else { return id }
        let repository = self.repository
        let scratch = ChunkScratch(capacity: bytes.count)
        let full: SealedPack? = bytes.withUnsafeBytes { plain in
            state.withLock { state in
                var sealed: SealedPack?
                if let builder = state.metadata, !builder.canAppend(plain.count) {
                    sealed = builder.seal()
                    state.metadata = nil
                }
                let builder =
                    state.metadata
                    ?? repository.newPackBuilder(kind: .metadata, maxChunk: max(plain.count, 1 << 20), compression: compression)
                builder.append(plain, id: id, scratch: scratch)
                state.metadata = builder
                return sealed
            }
        }
        if let full { try await upload(PackHandoff(full)) }
        return id
    }

    // MARK: - Commit

    /// What the session stored so far (packs and index objects, in bytes).
    public var bytesStored: Int64 { state.withLock { $0.bytesStored } }

    /// Flushes the metadata pack and the last index object, checks the session is still valid,
    /// and writes the manifest: the commit point. Returns the snapshot's id.
    public func commit(_ manifest: SnapshotManifest) async throws -> (id: ChunkID, bytesStored: Int64) {
        try await flush()
        FaultPoint.beforeManifest.reach()
        try await verifyMarker()
        let (name, bytes) = try repository.sealSnapshot(manifest)
        try await Repository.wrap { try await repository.store.put(name, bytes) }
        let total = state.withLock {
            $0.bytesStored += Int64(bytes.count)
            return $0.bytesStored
        }
        await end()
        return (ObjectName.id(in: name)!, total)
    }

    /// Stores everything written so far: waits for the uploads, stores the metadata pack and
    /// the last index object. A session that does not commit a snapshot itself (an agent's
    /// part of a backup another process commits) flushes, then ends.
    public func flush() async throws {
        try await uploads.drain()
        let metadata: SealedPack? = state.withLock { state in
            defer { state.metadata = nil }
            return state.metadata.flatMap { $0.isEmpty ? nil : $0.seal() }
        }
        if let metadata { try await upload(PackHandoff(metadata)) }
        let remaining = state.withLock { state in
            defer { state.unindexed = [] }
            return state.unindexed
        }
        try await writeIndex(remaining)
    }

    /// Checks, just before the commit, that this session's marker still exists and will not
    /// expire within the margin a prune allows: a session that a prune may have given up on
    /// must not commit a snapshot referencing chunks that prune could be deleting.
    private func verifyMarker() async throws {
        guard let expiry = markerExpiry.withLock({ $0 }), expiry.timeIntervalSinceNow > SessionMarker.margin(lease: lease) else {
            markerExpiry.withLock { $0 = nil }
            throw RepositoryError.sessionExpired(session: id)
        }
        let bytes: [UInt8]
        do {
            bytes = try await repository.store.get(ObjectName.session(id))
        } catch ObjectStoreError.notFound {
            throw RepositoryError.sessionExpired(session: id)
        } catch let error as ObjectStoreError {
            // Not an answer about the session: nothing is committed, and the error says why.
            throw RepositoryError.store(error)
        }
        guard let marker = try? Repository.decoder.decode(SessionMarker.self, from: Data(bytes)),
            marker.expires.timeIntervalSinceNow > marker.margin
        else {
            throw RepositoryError.sessionExpired(session: id)
        }
    }

    /// Ends the session without committing: stops refreshing and removes the marker. What was
    /// uploaded stays (its index objects let a rerun dedup against it).
    public func end() async {
        uploads.cancel()
        try? await uploads.drain()
        stopRefreshing()
        try? await repository.store.delete([ObjectName.session(id)])
    }

    /// Stops extending the marker's lease (what a stalled process amounts to).
    func stopRefreshing() {
        refresher.withLock {
            $0?.cancel()
            $0 = nil
        }
    }
}

/// A sealed pack on its way to the store, whose byte array the upload takes out (so that, once
/// uploaded, nothing else holds it and it can be reused). Used by one upload task only.
final class PackHandoff: @unchecked Sendable {
    private(set) var pack: SealedPack

    init(_ pack: SealedPack) {
        self.pack = pack
    }

    func takeBytes() -> [UInt8] {
        defer { pack.bytes = [] }
        return pack.bytes
    }
}
