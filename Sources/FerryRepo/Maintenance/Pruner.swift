import FerryBlob
import FerrySystem
import Foundation

/// Removes data no snapshot needs, with the two-phase protocol of design §3, safe against
/// backups running at the same time:
///
/// 1. **Mark.** Under the prune lock, every chunk no snapshot references is tombstoned by a new
///    index object; then the live writer sessions are listed and recorded with the mark. Writers
///    that start later see the tombstones and store such chunks again instead of depending on
///    them.
/// 2. **Sweep** (in this run if no session was alive, otherwise in a later run once every
///    recorded session has ended or expired). Snapshots are read again: a tombstoned chunk that
///    a snapshot committed since the mark references is revived with a new index entry. A pack
///    is deleted when none of its entries is still needed (a needed entry is the current
///    location of a chunk that is referenced, or that this mark did not tombstone); a pack whose
///    needed part falls below the threshold is rewritten first. Packs no index listed at the
///    mark and still unlisted are deleted. Index objects are then compacted.
///
/// Every step writes before it deletes, so a prune killed at any point leaves a valid
/// repository and the next prune finishes the work.
public struct Pruner: Sendable {
    public let store: any ObjectStore
    public let credential: Credential?
    public let cache: IndexCache?
    /// Rewrite a pack when more than this fraction (0...1) of its bytes is no longer needed.
    public let maxUnused: Double
    public let dryRun: Bool
    /// Writes interrupted before this moment (temporary files, incomplete multipart uploads)
    /// are removed; nil leaves them.
    public let abandonedBefore: Date?
    /// Called with a line describing each step, for the CLI to print.
    public let log: @Sendable (String) -> Void

    public init(
        store: any ObjectStore, credential: Credential?, cache: IndexCache? = nil, maxUnused: Double = 0.2, dryRun: Bool = false,
        abandonedBefore: Date? = Date(timeIntervalSinceNow: -86_400), log: @escaping @Sendable (String) -> Void = { _ in }
    ) {
        self.store = store
        self.abandonedBefore = abandonedBefore
        self.credential = credential
        self.cache = cache
        self.maxUnused = maxUnused
        self.dryRun = dryRun
        self.log = log
    }

    public func run() async throws -> PruneReport {
        if dryRun { return try await locked() }
        return try await PruneLock.holding(store: store) { try await locked() }
    }

    private func locked() async throws -> PruneReport {
        var report = PruneReport()
        report.dryRun = dryRun
        let config = try await Repository.open(store: store, credential: credential, loadIndex: false).config
        let lock = try config.objectLock.map { policy in
            guard let versions = store.capabilities.versions else {
                throw RepositoryError.objectLockUnavailable(
                    location: store.location,
                    detail: "prune of a locked repository needs its S3 bucket")
            }
            return (policy, versions)
        }
        report.indexObjectsBefore = try await Repository.wrap { try await store.list(prefix: ObjectName.indexPrefix) }.count
        if let abandonedBefore, !dryRun {
            report.abandonedWrites = try await Repository.wrap { try await store.removeAbandonedWrites(startedBefore: abandonedBefore) }
            if report.abandonedWrites.count > 0 { log("removed \(report.abandonedWrites.count) abandoned write(s) of interrupted writers") }
        }

        // Sweep earlier marks whose sessions are all gone.
        var pending = try await loadMarks()
        for mark in pending.sorted(by: { $0.created < $1.created }) {
            let waiting = try await liveSessions(of: mark, report: &report)
            if waiting.isEmpty {
                try await sweep(mark, report: &report)
                pending.removeAll { $0.id == mark.id }
            } else {
                report.marksWaiting += 1
                report.waitingFor += waiting
            }
        }
        if pending.isEmpty && report.marksSwept > 0 && !dryRun {
            try await compact(report: &report)
        }

        // Mark what is unreferenced now.
        if let mark = try await mark(pending: pending, report: &report) {
            let waiting = try await liveSessions(of: mark, report: &report)
            if waiting.isEmpty && !dryRun {
                try await sweep(mark, report: &report)
                if pending.isEmpty { try await compact(report: &report) }
            } else if !waiting.isEmpty {
                report.marksWaiting += 1
                report.waitingFor += waiting
                log("mark \(mark.id) waits for \(waiting.count) running backup session(s); run prune again after they end")
            }
        }
        if let (policy, versions) = lock, !dryRun {
            try await extendRetention(policy, versions: versions, report: &report)
            try await reclaimExpiredVersions(versions, report: &report)
        }
        report.indexObjectsAfter = try await Repository.wrap { try await store.list(prefix: ObjectName.indexPrefix) }.count
        return report
    }

    // MARK: - Mark

    private func mark(pending: [PruneMark], report: inout PruneReport) async throws -> PruneMark? {
        let repository = try await Repository.open(store: store, credential: credential, cache: cache)
        let live = try await liveChunks(repository)
        var covered: Set<ChunkID> = []
        for mark in pending {
            if let tombstones = try await tombstoneIndex(of: mark, repository: repository) {
                covered.formUnion(tombstones.entries.map(\.id))
            }
        }
        var candidates: [ChunkID] = []
        var indexedPacks: Set<ChunkID> = []
        repository.index.forEach { id, location, _ in
            indexedPacks.insert(location.pack.id)
            if !live.contains(id) && !covered.contains(id) { candidates.append(id) }
        }
        _ = try await repository.forEachIndexObject { _, object in indexedPacks.formUnion(object.packs.map(\.id)) }
        let listed = try await Repository.wrap { try await store.list(prefix: ObjectName.packsPrefix) }
        let unindexed = listed.filter { ObjectName.id(in: $0.name).map { !indexedPacks.contains($0) } ?? false }.map(\.name)
        report.chunksMarked = candidates.count
        guard !candidates.isEmpty || !unindexed.isEmpty else {
            log("nothing to mark: every chunk is referenced")
            return nil
        }
        log("marking \(candidates.count) unreferenced chunk(s) and \(unindexed.count) unindexed pack(s)")
        if dryRun { return nil }
        let tombstones = IndexObject(
            created: Date(), session: Array("prune".utf8), packs: [],
            entries: candidates.map {
                IndexObject.Entry(id: $0, pack: 0, offset: 0, length: 0, rawLength: 0, isTombstone: true)
            })
        let (tombstoneName, bytes) = repository.sealIndex(tombstones)
        try await Repository.wrap { try await store.put(tombstoneName, bytes) }
        FaultPoint.pruneMarked.reach()
        // Sessions are listed after the tombstones exist: any writer not listed here announced
        // itself later, so it read an index that already held them.
        let sessions = try await Repository.wrap { try await store.list(prefix: ObjectName.sessionsPrefix) }
            .map { String($0.name.dropFirst(ObjectName.sessionsPrefix.count)) }
        let mark = PruneMark(
            id: SecureRandom.hex(8), created: tombstones.created, tombstoneIndex: tombstoneName,
            sessions: sessions.sorted(), unindexedPacks: unindexed.sorted(), candidates: candidates.count)
        try await Repository.wrap { try await store.put(mark.name, try [UInt8](Repository.encoder.encode(mark))) }
        return mark
    }

    private func loadMarks() async throws -> [PruneMark] {
        let names = try await Repository.wrap { try await store.list(prefix: PruneMark.prefix) }.map(\.name)
        var marks: [PruneMark] = []
        for (name, bytes) in try await Repository.fetchAll(names, store: store) {
            guard let mark = try? Repository.decoder.decode(PruneMark.self, from: Data(bytes)) else {
                throw RepositoryError.corruptObject(name: name, detail: "prune mark is not valid JSON")
            }
            marks.append(mark)
        }
        return marks
    }

    /// Sessions recorded by `mark` that may still be alive. Only a definite answer ends a
    /// session: its marker is absent, or its lease expired past the margin (then the marker is
    /// removed, so the session can never commit). A marker that cannot be read or decoded keeps
    /// the mark waiting, and the reason goes into the report.
    private func liveSessions(of mark: PruneMark, report: inout PruneReport) async throws -> [String] {
        var alive: [String] = []
        var dead: [String] = []
        for session in mark.sessions {
            let name = ObjectName.session(session)
            let bytes: [UInt8]
            do {
                bytes = try await store.get(name)
            } catch ObjectStoreError.notFound {
                continue // ended
            } catch {
                alive.append(session)
                report.sessionProblems.append("could not read \(name) (\(error)); mark \(mark.id) waits for the next prune")
                continue
            }
            guard let marker = try? Repository.decoder.decode(SessionMarker.self, from: Data(bytes)) else {
                alive.append(session)
                report.sessionProblems.append(
                    "\(name) is not a valid session marker (damaged); mark \(mark.id) waits until it is gone: "
                        + "delete it once no backup runs")
                continue
            }
            if marker.expires.timeIntervalSinceNow < -marker.margin {
                dead.append(name)
            } else {
                alive.append(session)
            }
        }
        if !dead.isEmpty && !dryRun {
            log("removing \(dead.count) expired session marker(s)")
            try await Repository.wrap { try await store.delete(dead) }
        }
        return alive
    }

    /// The index object holding `mark`'s tombstones, or nil when it is definitely not there
    /// (a prune killed before writing it) or damaged. Any other error is thrown: the mark stays.
    private func tombstoneIndex(of mark: PruneMark, repository: Repository) async throws -> IndexObject? {
        do {
            return try await repository.indexObject(named: mark.tombstoneIndex)
        } catch RepositoryError.store(.notFound) {
            return nil
        } catch RepositoryError.corruptObject {
            return nil
        }
    }

    // MARK: - Sweep

    private func sweep(_ mark: PruneMark, report: inout PruneReport) async throws {
        let repository = try await Repository.open(store: store, credential: credential, cache: cache)
        guard let tombstones = try await tombstoneIndex(of: mark, repository: repository) else {
            log("mark \(mark.id) has no readable tombstone index (an interrupted prune, or damage); discarding it")
            if !dryRun { try await Repository.wrap { try await store.delete([mark.name]) } }
            return
        }
        var tombstoned = ChunkSet.Builder()
        tombstoned.insert(contentsOf: tombstones.entries.lazy.map(\.id))
        let candidates = tombstoned.build()
        let live = try await liveChunks(repository)

        // Revive tombstoned chunks that snapshots committed since the mark reference.
        var revived: [(ChunkID, ChunkLocation)] = []
        for entry in tombstones.entries where live.contains(entry.id) && repository.index.isTombstoned(entry.id) {
            if let location = repository.index.location(of: entry.id) { revived.append((entry.id, location)) }
        }
        report.chunksRevived += revived.count
        if !revived.isEmpty && !dryRun {
            try await writeIndex(revived, repository: repository)
            FaultPoint.pruneRevived.reach()
        }

        // Which entries of which packs are still needed.
        var entriesByPack: [ChunkID: (pack: IndexObject.Pack, entries: [IndexObject.Entry])] = [:]
        let problems = try await repository.forEachIndexObject { _, object in
            for entry in object.entries where !entry.isTombstone {
                let pack = object.packs[Int(entry.pack)]
                entriesByPack[pack.id, default: (pack, [])].entries.append(entry)
            }
        }
        guard problems.isEmpty else {
            throw RepositoryError.invalidArgument("prune needs every index object readable; run ferry check first: \(problems[0])")
        }
        var deletions: [String] = []
        var rewrite: [(pack: IndexObject.Pack, needed: [IndexObject.Entry])] = []
        var reclaimed: Int64 = 0
        let sizes = Dictionary(
            try await Repository.wrap { try await store.list(prefix: ObjectName.packsPrefix) }.map { ($0.name, $0.size) },
            uniquingKeysWith: { a, _ in a })
        for (packID, group) in entriesByPack {
            let name = ObjectName.pack(packID)
            guard let size = sizes[name] else { continue }
            var seen: Set<ChunkID> = []
            let needed = group.entries.filter { entry in
                guard let current = repository.index.location(of: entry.id), current.pack.id == packID, current.offset == entry.offset
                else { return false }
                guard live.contains(entry.id) || !candidates.contains(entry.id) else { return false }
                return seen.insert(entry.id).inserted
            }
            let neededBytes = needed.reduce(Int64(0)) { $0 + Int64($1.length) }
            let allBytes = group.entries.reduce(Int64(0)) { $0 + Int64($1.length) }
            if needed.isEmpty {
                deletions.append(name)
                reclaimed += size
            } else if Double(allBytes - neededBytes) > maxUnused * Double(size) {
                rewrite.append((group.pack, needed))
            }
        }
        let stillUnindexed = mark.unindexedPacks.filter { name in
            sizes[name] != nil && ObjectName.id(in: name).map { entriesByPack[$0] == nil } ?? false
        }
        deletions += stillUnindexed
        reclaimed += stillUnindexed.reduce(Int64(0)) { $0 + (sizes[$1] ?? 0) }
        let removed = Set(deletions).union(rewrite.map { ObjectName.pack($0.pack.id) })
        var keptUnused: Set<ChunkID> = []
        for (packID, group) in entriesByPack where !removed.contains(ObjectName.pack(packID)) {
            for entry in group.entries where candidates.contains(entry.id) && !live.contains(entry.id) {
                guard let current = repository.index.location(of: entry.id), current.pack.id == packID, current.offset == entry.offset,
                    keptUnused.insert(entry.id).inserted
                else { continue }
                report.unusedBytesKept += Int64(entry.length)
            }
        }
        report.unusedChunksKept += keptUnused.count
        log("sweep of mark \(mark.id): \(revived.count) revived, \(deletions.count) pack(s) to delete, \(rewrite.count) to rewrite")
        report.marksSwept += 1
        report.packsDeleted += deletions.count
        report.packsRewritten += rewrite.count
        guard !dryRun else {
            report.bytesReclaimed +=
                reclaimed
                + rewrite.reduce(Int64(0)) { total, item in
                    total + Int64(item.pack.size) - item.needed.reduce(Int64(0)) { $0 + Int64($1.length) }
                }
            return
        }

        // Rewrite sparse packs: new packs and their index first, then delete the old ones.
        if !rewrite.isEmpty {
            let written = try await repack(rewrite, repository: repository)
            report.packsWritten += written.count
            reclaimed += rewrite.reduce(Int64(0)) { $0 + (sizes[ObjectName.pack($1.pack.id)] ?? 0) }
            reclaimed -= written.reduce(Int64(0)) { $0 + $1 }
            deletions += rewrite.map { ObjectName.pack($0.pack.id) }
            FaultPoint.pruneRepacked.reach()
        }
        try await Repository.wrap { try await store.delete(deletions) }
        report.bytesReclaimed += reclaimed
        FaultPoint.pruneDeleted.reach()
        try await Repository.wrap { try await store.delete([mark.name]) }
    }

    /// Copies the needed chunks of `packs` into new packs (decoded and verified on the way);
    /// returns the sizes of the packs written.
    private func repack(_ packs: [(pack: IndexObject.Pack, needed: [IndexObject.Entry])], repository: Repository) async throws -> [Int64] {
        var builders: [PackFormat.Kind: PackBuilder] = [:]
        var sealed: [SealedPack] = []
        let scratch = ChunkScratch(capacity: BlockSize.maximum)
        for (pack, needed) in packs {
            let name = ObjectName.pack(pack.id)
            let bytes = try await Repository.wrap { try await store.get(name) }
            let codec = repository.codec(for: pack)
            for entry in needed {
                guard Int(entry.offset) + Int(entry.length) <= bytes.count else {
                    throw RepositoryError.corruptObject(name: name, detail: "shorter than its index says")
                }
                var plain = [UInt8](repeating: 0, count: Int(entry.rawLength))
                try bytes.withUnsafeBytes { raw in
                    let record = UnsafeRawBufferPointer(rebasing: raw[Int(entry.offset)..<Int(entry.offset) + Int(entry.length)])
                    try plain.withUnsafeMutableBytes { try codec.decode(record, id: entry.id, into: $0, pack: name) }
                }
                let builder = builders[pack.kind] ?? repository.newPackBuilder(kind: pack.kind, maxChunk: BlockSize.maximum)
                plain.withUnsafeBytes { _ = builder.append($0, id: entry.id, scratch: scratch) }
                if builder.isFull {
                    sealed.append(builder.seal())
                    builders[pack.kind] = nil
                } else {
                    builders[pack.kind] = builder
                }
            }
        }
        sealed += builders.values.filter { !$0.isEmpty }.map { $0.seal() }
        for pack in sealed {
            try await Repository.wrap { try await store.put(pack.name, pack.bytes) }
        }
        let index = IndexObject(
            created: Date(), session: Array("prune".utf8),
            packs: sealed.map {
                IndexObject.Pack(id: $0.id, salt: $0.salt, kind: $0.kind, size: UInt32($0.bytes.count))
            },
            entries: sealed.enumerated().flatMap { number, pack in
                pack.entries.map {
                    IndexObject.Entry(
                        id: $0.id, pack: UInt32(number), offset: $0.offset, length: $0.length, rawLength: $0.rawLength, isTombstone: false)
                }
            })
        let (name, bytes) = repository.sealIndex(index)
        try await Repository.wrap { try await store.put(name, bytes) }
        return sealed.map { Int64($0.bytes.count) }
    }

    private func writeIndex(_ entries: [(ChunkID, ChunkLocation)], repository: Repository) async throws {
        var slice = IndexSlice()
        for (id, location) in entries { slice.add(id, location) }
        let (name, bytes) = repository.sealIndex(slice.take())
        try await Repository.wrap { try await store.put(name, bytes) }
    }

    /// Plain entries gathered into one index object, with its pack table.
    struct IndexSlice {
        private var packs: [IndexObject.Pack] = []
        private var numbers: [ChunkID: UInt32] = [:]
        private var entries: [IndexObject.Entry] = []

        var count: Int { entries.count }

        mutating func add(_ id: ChunkID, _ location: ChunkLocation) {
            let number =
                numbers[location.pack.id]
                ?? {
                    packs.append(location.pack)
                    numbers[location.pack.id] = UInt32(packs.count - 1)
                    return UInt32(packs.count - 1)
                }()
            entries.append(
                IndexObject.Entry(
                    id: id, pack: number, offset: location.offset, length: location.length, rawLength: location.rawLength,
                    isTombstone: false))
        }

        /// The object, and an empty slice left behind.
        mutating func take() -> IndexObject {
            defer { self = IndexSlice() }
            return IndexObject(created: Date(), session: Array("prune".utf8), packs: packs, entries: entries)
        }
    }

    // MARK: - Compaction

    /// Replaces all index objects with a few holding only each chunk's current location. Only
    /// run when no mark is pending (a pending mark's tombstones must keep their place).
    private func compact(report: inout PruneReport) async throws {
        // The cache is read, not written: every object it covers is replaced below.
        let repository = try await Repository.open(store: store, credential: credential, cache: cache?.readOnly)
        let before = repository.indexNames
        guard before.count > 1 || !repository.indexProblems.isEmpty else { return }
        guard repository.indexProblems.isEmpty else { return }
        // With no mark pending, a tombstone protects nothing (it can only be left by a prune
        // killed before recording its mark): every chunk is written back as a plain entry.
        let packs = Set(
            try await Repository.wrap { try await store.list(prefix: ObjectName.packsPrefix) }.compactMap { ObjectName.id(in: $0.name) })
        // Sealed as they fill (500,000 entries an object), so only one slice of entries is held.
        let perObject = 500_000
        var sealed: [(name: String, bytes: [UInt8])] = []
        var slice = IndexSlice()
        repository.index.forEach { id, location, _ in
            guard packs.contains(location.pack.id) else { return }
            slice.add(id, location)
            if slice.count == perObject { sealed.append(repository.sealIndex(slice.take())) }
        }
        if slice.count > 0 || sealed.isEmpty { sealed.append(repository.sealIndex(slice.take())) }
        for (name, bytes) in sealed {
            try await Repository.wrap { try await store.put(name, bytes) }
        }
        FaultPoint.pruneCompacted.reach()
        try await Repository.wrap { try await store.delete(Array(before)) }
        log("compacted \(before.count) index object(s) into \(sealed.count)")
    }

    // MARK: - Liveness

    /// Every chunk a snapshot references: block-map pages and the blocks they list, resource
    /// catalog pages and the objects they list.
    private func liveChunks(_ repository: Repository) async throws -> ChunkSet {
        let (snapshots, problems) = try await repository.snapshots()
        guard problems.isEmpty else {
            throw RepositoryError.invalidArgument(
                "prune needs every snapshot readable (it could not tell what they reference): \(problems[0])")
        }
        // Pages shared by several snapshots are read once; their entries may repeat across pages
        // (the set removes duplicates when it is built).
        var pages: Set<ChunkID> = []
        var live = ChunkSet.Builder()
        for snapshot in snapshots {
            for volume in snapshot.manifest.volumes {
                for page in 0..<volume.pageCount {
                    let id = try volume.pageID(page)
                    guard pages.insert(id).inserted else { continue }
                    live.insert(id)
                    live.insert(contentsOf: try await repository.blockMapPage(volume, page: page).entries.lazy.filter { !$0.isZero })
                }
            }
            if let resources = snapshot.manifest.resources {
                for page in resources.pages.indices {
                    let id = try resources.pageID(page)
                    guard pages.insert(id).inserted else { continue }
                    live.insert(id)
                    for entry in try await repository.resourceCatalogPage(resources, page: page).entries {
                        live.insert(try entry.objectID())
                    }
                }
            }
        }
        return live.build()
    }
}
