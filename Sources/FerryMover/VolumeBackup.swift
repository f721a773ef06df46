import FerryRepo
import FerrySystem
import FerryVolume
import Foundation
import Synchronization

/// What to back up and how.
public struct BackupRequest: Sendable {
    /// The snapshot's name; `--parent auto` matches on it.
    public var snapshotName: String
    public var blockSize: Int
    /// The snapshot to compare against; blocks equal to its block map count as unchanged.
    public var parent: Snapshot?
    /// Concurrent block workers.
    public var workers: Int
    public var tags: [String: String]
    /// Live counters for a progress display.
    public var progress: TransferProgress?
    /// Which blocks may have changed since the parent (`--cbt`); nil compares every block.
    public var changeTracker: (any ChangeTracker)?
    /// The spot check of blocks the tracker calls unchanged.
    public var cbtSample: CBTSample
    /// Compare every block and report those the tracker missed (`--verify-cbt`).
    public var verifyCBT: Bool
    /// The session marker's lease (refreshed every third of it).
    public var sessionLease: Duration = .seconds(900)
    /// The compression of new chunks; nil for the repository's default.
    public var compression: Compression?
    /// The volume's name in the snapshot; the parent's volume of the same name is compared.
    public var volumeName = "disk"
    /// Only these block-map pages (clamped to the volume's): one range of a volume split across
    /// work units. The result's `pages` are then those alone, from `pages.lowerBound`; its stats
    /// count only their blocks (`VolumeRanges.join` puts the ranges together).
    public var pages: Range<Int>?

    public init(
        snapshotName: String, blockSize: Int, parent: Snapshot? = nil, workers: Int = VolumeBackup.defaultWorkers,
        tags: [String: String] = [:], progress: TransferProgress? = nil,
        changeTracker: (any ChangeTracker)? = nil, cbtSample: CBTSample = .standard, verifyCBT: Bool = false
    ) {
        self.snapshotName = snapshotName
        self.blockSize = blockSize
        self.parent = parent
        self.workers = workers
        self.tags = tags
        self.progress = progress
        self.changeTracker = changeTracker
        self.cbtSample = cbtSample
        self.verifyCBT = verifyCBT
    }
}

/// The outcome of a backup: the committed snapshot and what it took.
public struct BackupResult: Sendable {
    public var snapshot: ChunkID
    public var manifest: SnapshotManifest
    public var stats: VolumeStats
    /// With `--verify-cbt`: the blocks that changed although the tracker did not report them.
    public var missedBlocks: [Int]?
}

/// Backs up one volume into a repository: the agent's data path (design §2).
///
/// The volume is cut into fixed, offset-aligned blocks and processed one block-map page at a
/// time. Within a page, blocks the source reports as holes are recorded as zeros without being
/// read; the rest are read by parallel workers, each of which recognises all-zero blocks,
/// computes the keyed chunk id, compares it with the parent's block map and the repository's
/// index, and only for new content compresses, encrypts and appends it to its own pack. Memory
/// is bounded by the workers' blocks and packs, whatever the volume's size.
public struct VolumeBackup: Sendable {
    public static let defaultWorkers = max(2, ProcessInfo.processInfo.activeProcessorCount + 1)

    public let source: any BlockSource
    public let repository: Repository
    public let request: BackupRequest
    /// The threads that read the source: this backup's own, so that reads of a device that no
    /// longer answers hold up only this backup, never another's or the repository's I/O.
    let reads: BlockingExecutor

    public init(source: any BlockSource, repository: Repository, request: BackupRequest) {
        self.source = source
        self.repository = repository
        self.request = request
        reads = BlockingExecutor(label: "ferry.read", width: request.workers + 1)
    }

    public func run() async throws -> BackupResult {
        let started = ContinuousClock.now
        let session = try await repository.beginSession(lease: request.sessionLease, compression: request.compression)
        do {
            let (volume, missed) = try await store(in: session)
            var stats = volume.stats
            let manifest = SnapshotManifest(
                time: Date(), name: request.snapshotName, hostname: ProcessInfo.processInfo.hostName,
                parent: request.parent?.id.hex, session: session.id, volumes: [volume], tags: request.tags)
            let (id, stored) = try await session.commit(manifest)
            stats.bytesStored = stored
            stats.seconds = (ContinuousClock.now - started).seconds
            return BackupResult(snapshot: id, manifest: manifest, stats: stats, missedBlocks: missed)
        } catch {
            await session.end()
            throw error
        }
    }

    /// Stores the volume's blocks and block map in `session` (flushed, not committed) and
    /// returns its manifest entry: what an agent hands to the coordinator, which commits the
    /// snapshot. Also returns, with `verifyCBT`, the blocks the tracker missed.
    public func store(in session: WriteSession) async throws -> (VolumeManifest, missedBlocks: [Int]?) {
        guard BlockSize.isValid(request.blockSize) else {
            throw RepositoryError.invalidArgument("block size \(request.blockSize) is not a power of two between 64 KiB and 8 MiB")
        }
        let started = ContinuousClock.now
        let plan = try await ChangePlan.make(
            tracker: request.changeTracker, parent: comparableParent, source: source, request: request, repository: session.repository,
            reads: reads)
        var (pages, stats, missed) = try await writeBlocks(session, repository: session.repository, plan: plan)
        try await session.flush()
        stats.bytesSampled = plan.bytesSampled
        stats.bytesStored = session.bytesStored
        stats.seconds = (ContinuousClock.now - started).seconds
        let volume = VolumeManifest(
            name: request.volumeName, source: source.description, format: source.formatName, size: source.size,
            blockSize: request.blockSize, pageEntries: repository.config.blockMapPageEntries, pages: pages,
            changeTracking: ChangeTrackingRecord(
                provider: plan.provider, bookmarkProvider: plan.bookmark?.provider,
                bookmark: plan.bookmark?.fields, fallbackReason: plan.fallbackReason),
            stats: stats)
        pages.removeAll()
        return (volume, plan.claimedBlocks == nil ? nil : missed.sorted())
    }

    /// The parent's volume when its block map lines up with this backup's blocks.
    var comparableParent: VolumeManifest? {
        guard let volume = request.parent?.manifest.volumes.first(where: { $0.name == request.volumeName }),
            volume.blockSize == request.blockSize
        else { return nil }
        return volume
    }

    /// Writes every block and page; `repository` is the session's view (its index was read
    /// after the session announced itself).
    private func writeBlocks(_ session: WriteSession, repository: Repository, plan: ChangePlan) async throws -> (
        [ChunkID], VolumeStats, [Int]
    ) {
        let blockSize = Int64(request.blockSize)
        let size = source.size
        let pageEntries = repository.config.blockMapPageEntries
        let blockCount = Int((size + blockSize - 1) / blockSize)
        let pageCount = (blockCount + pageEntries - 1) / pageEntries
        let parent = comparableParent
        let pool = PackPool(session: session, maxChunk: request.blockSize)
        var stats = VolumeStats()
        var pages: [ChunkID] = []
        var missed: [Int] = []
        pages.reserveCapacity(pageCount)

        let selected = (request.pages ?? 0..<pageCount).clamped(to: 0..<pageCount)
        stats.size = VolumeRanges.bytes(of: selected, size: size, blockSize: request.blockSize, pageEntries: pageEntries)
        for page in selected {
            let first = page * pageEntries
            let count = min(pageEntries, blockCount - first)
            let pageRange = Int64(first) * blockSize..<min(size, Int64(first + count) * blockSize)
            var parentPage: BlockMapPage?
            if let parent, page < parent.pageCount {
                parentPage = try await repository.blockMapPage(parent, page: page)
            }
            let source = self.source
            var ranges = try await reads.run { try source.dataRanges(in: pageRange) }
            if let allocated = plan.allocated { ranges = BlockRangeList(ranges).intersection(allocated).ranges }
            var toRead = Self.blocksTouching(ranges, first: first, count: count, blockSize: blockSize)
            let holes = count - toRead.count
            var entries = [ChunkID](repeating: .zero, count: count)
            if let changed = plan.changedBlocks, let parentPage {
                // Blocks the tracker vouches for keep the parent's chunk, unread (unless a prune
                // has tombstoned that chunk since).
                toRead.removeAll { block in
                    guard !changed.contains(Int64(first + block)), block < parentPage.entries.count else { return false }
                    let entry = parentPage.entries[block]
                    guard entry.isZero || session.holds(entry) else { return false }
                    entries[block] = entry
                    stats.unchangedBlocks += 1
                    return true
                }
            }
            if let claimed = plan.claimedBlocks, let parentPage {
                // Holes where the parent had data changed too.
                let reading = Set(toRead)
                for block in 0..<min(count, parentPage.entries.count)
                where !reading.contains(block) && !parentPage.entries[block].isZero && !claimed.contains(Int64(first + block)) {
                    missed.append(first + block)
                }
            }
            let skipped =
                Int64(pageRange.count) - toRead.reduce(Int64(0)) { $0 + Self.length(of: first + $1, blockSize: blockSize, size: size) }
            stats.zeroBlocks += holes
            stats.bytesNotRead += skipped
            request.progress?.advance(skipped)

            let outcome = try await processBlocks(
                toRead, first: first, parentPage: parentPage, pool: pool, hasher: repository.hasher, claimed: plan.claimedBlocks)
            for (block, id) in outcome.entries { entries[block] = id }
            missed += outcome.missed
            stats.merge(outcome.stats)
            let pageID = try await session.storeMetadata(BlockMapPage(entries: entries).encode())
            pages.append(pageID)
        }
        try await pool.flush()
        return (pages, stats, missed)
    }

    /// Reads and stores the blocks `toRead` (indices within the page starting at block `first`).
    private func processBlocks(
        _ toRead: [Int], first: Int, parentPage: BlockMapPage?, pool: PackPool, hasher: ChunkHasher, claimed: BlockRangeList?
    ) async throws -> WorkerOutcome {
        let cursor = WorkCursor()
        let workers = min(request.workers, max(1, toRead.count))
        return try await withThrowingTaskGroup(of: WorkerOutcome.self) { group in
            for _ in 0..<workers {
                group.addTask {
                    try await worker(
                        toRead: toRead, cursor: cursor, first: first, parentPage: parentPage, pool: pool, hasher: hasher, claimed: claimed)
                }
            }
            var total = WorkerOutcome()
            for try await outcome in group {
                total.entries += outcome.entries
                total.missed += outcome.missed
                total.stats.merge(outcome.stats)
            }
            return total
        }
    }

    private func worker(
        toRead: [Int], cursor: WorkCursor, first: Int, parentPage: BlockMapPage?, pool: PackPool, hasher: ChunkHasher,
        claimed: BlockRangeList?
    ) async throws -> WorkerOutcome {
        let blockSize = Int64(request.blockSize)
        let buffer = BlockBuffer(capacity: request.blockSize)
        let scratch = ChunkScratch(capacity: request.blockSize)
        let session = pool.session
        let source = self.source
        var outcome = WorkerOutcome()
        while true {
            let k = cursor.next()
            guard k < toRead.count else { break }
            try Task.checkCancellation()
            let block = toRead[k]
            let offset = Int64(first + block) * blockSize
            let length = Self.length(of: first + block, blockSize: blockSize, size: source.size)
            try await reads.run {
                FaultPoint.blockRead.reach()
                try source.read(at: offset, into: buffer.prefix(Int(length)))
            }
            outcome.stats.bytesRead += length
            request.progress?.advance(length)
            let data = UnsafeRawBufferPointer(buffer.prefix(Int(length)))
            let zero = data.isAllZero
            let id = zero ? ChunkID.zero : hasher.id(of: data)
            if let claimed, let parentPage, !claimed.contains(Int64(first + block)) {
                let before = block < parentPage.entries.count ? parentPage.entries[block] : .zero
                if before != id { outcome.missed.append(first + block) }
            }
            if zero {
                outcome.stats.zeroBlocks += 1
                continue // entries default to zero
            }
            outcome.entries.append((block, id))
            if let parentPage, block < parentPage.entries.count, parentPage.entries[block] == id, session.holds(id) {
                // The parent's chunk may be relied on unless a prune has tombstoned it since.
                outcome.stats.unchangedBlocks += 1
            } else if !session.claim(id) {
                outcome.stats.dedupBlocks += 1
            } else {
                outcome.stats.newBlocks += 1
                let builder = pool.take()
                builder.append(data, id: id, scratch: scratch)
                if builder.isFull {
                    try await session.store(builder)
                    request.progress?.setStored(session.bytesStored)
                } else {
                    pool.put(builder)
                }
            }
        }
        return outcome
    }

    /// Indices (within the page) of the blocks that intersect `ranges`.
    static func blocksTouching(_ ranges: [Range<Int64>], first: Int, count: Int, blockSize: Int64) -> [Int] {
        var blocks: [Int] = []
        var last = -1
        for range in ranges where !range.isEmpty {
            let low = max(Int(range.lowerBound / blockSize) - first, last + 1)
            let high = min(Int((range.upperBound - 1) / blockSize) - first, count - 1)
            guard low <= high else { continue }
            blocks.append(contentsOf: low...high)
            last = high
        }
        return blocks
    }

    static func length(of block: Int, blockSize: Int64, size: Int64) -> Int64 {
        min(blockSize, size - Int64(block) * blockSize)
    }
}

/// Hands out consecutive work item numbers to concurrent workers.
final class WorkCursor: Sendable {
    private let counter = Atomic<Int>(0)

    func next() -> Int {
        counter.wrappingAdd(1, ordering: .relaxed).oldValue
    }
}

/// What one worker did on one page.
struct WorkerOutcome: Sendable {
    var entries: [(Int, ChunkID)] = []
    var missed: [Int] = []
    var stats = VolumeStats()
}
