import FerryRepo
import FerrySystem
import FerryVolume

/// What the change tracker contributes to one backup, decided before any block is stored
/// (design §4): the blocks it says may have changed, or why the backup compares everything.
///
/// A tracker's answer is used only after a spot check: a random sample of the blocks it calls
/// unchanged is read and hashed (counted as `bytesSampled`, not `bytesRead`) and must match the
/// parent's block map; one mismatch fails the provider and the backup compares every block.
struct ChangePlan: Sendable {
    /// The provider recorded as having decided what was read.
    var provider: String
    /// Why the requested tracker was not used.
    var fallbackReason: String?
    /// Block indexes that may have changed; every other block keeps the parent's entry. Nil:
    /// compare every block.
    var changedBlocks: BlockRangeList?
    /// `--verify-cbt`: the tracker's claim (block indexes), checked against a full compare.
    var claimedBlocks: BlockRangeList?
    /// For a backup without a parent: the ranges the tracker says hold data.
    var allocated: BlockRangeList?
    /// The bookmark the next incremental starts from.
    var bookmark: CBTBookmark?
    /// Bytes read for the spot check.
    var bytesSampled: Int64 = 0
    var blocksSampled = 0

    static func make(
        tracker: (any ChangeTracker)?, parent: VolumeManifest?, source: any BlockSource, request: BackupRequest,
        repository: Repository, reads: BlockingExecutor
    ) async throws -> ChangePlan {
        let size = source.size
        guard let tracker else {
            return ChangePlan(provider: parent == nil ? "none" : "hash")
        }
        // The bookmark of this backup is taken before reading, so nothing written meanwhile is lost.
        let bookmark = try? await tracker.currentBookmark()
        guard let parent else {
            let allocated = try? await tracker.allocatedRanges(size: size)
            return ChangePlan(
                provider: allocated == nil ? "none" : tracker.provider,
                allocated: allocated.map { BlockRangeList($0) }, bookmark: bookmark)
        }
        var plan = ChangePlan(provider: "hash", bookmark: bookmark)
        guard let record = parent.changeTracking, let fields = record.bookmark, let bookmarkProvider = record.bookmarkProvider else {
            plan.fallbackReason = "the parent snapshot recorded no \(tracker.provider) bookmark"
            return plan
        }
        let changes: CBTChanges
        do {
            changes = try await tracker.changes(since: CBTBookmark(provider: bookmarkProvider, fields: fields), size: size)
        } catch {
            changes = .unusable(reason: "\(error)")
        }
        let ranges: [Range<Int64>]
        switch changes {
        case let .unusable(reason):
            plan.fallbackReason = reason
            return plan
        case let .changed(changed):
            ranges = changed
        }
        let blockSize = Int64(request.blockSize)
        let blocks = BlockRangeList(
            BlockRangeList(ranges).widened(toBlockSize: blockSize, size: size).ranges.map {
                ($0.lowerBound / blockSize)..<(($0.upperBound + blockSize - 1) / blockSize)
            })
        if request.verifyCBT {
            plan.claimedBlocks = blocks
            plan.fallbackReason = "--verify-cbt: every block compared to check \(tracker.provider)"
            return plan
        }
        if let mismatch = try await plan.spotCheck(
            blocks, parent: parent, source: source, request: request, repository: repository, reads: reads)
        {
            plan.fallbackReason =
                """
                \(tracker.provider) FAILED the sample check: block \(mismatch) (offset \(Int64(mismatch) * blockSize)) \
                changed although the tracker reported it unchanged
                """
            return plan
        }
        plan.provider = tracker.provider
        plan.changedBlocks = blocks
        return plan
    }

    /// Reads a sample of the blocks outside `changed` and compares them with the parent's block
    /// map; returns the first block that differs.
    private mutating func spotCheck(
        _ changed: BlockRangeList, parent: VolumeManifest, source: any BlockSource, request: BackupRequest, repository: Repository,
        reads: BlockingExecutor
    ) async throws -> Int? {
        var random = SystemRandomNumberGenerator()
        let blockSize = Int64(request.blockSize)
        let sample = request.cbtSample.choose(blockCount: Int64(parent.blockCount), changed: changed, using: &random)
        let buffer = BlockBuffer(capacity: request.blockSize)
        var page: (index: Int, entries: BlockMapPage)?
        let pageEntries = parent.pageEntries
        for block in sample.map({ Int($0) }) {
            let offset = Int64(block) * blockSize
            guard offset < source.size else { continue }
            let length = Int(min(blockSize, source.size - offset))
            try await reads.run { try source.read(at: offset, into: buffer.prefix(length)) }
            bytesSampled += Int64(length)
            blocksSampled += 1
            let data = UnsafeRawBufferPointer(buffer.prefix(length))
            let id = data.isAllZero ? ChunkID.zero : repository.hasher.id(of: data)
            if page?.index != block / pageEntries {
                page = (block / pageEntries, try await repository.blockMapPage(parent, page: block / pageEntries))
            }
            let entries = page!.entries.entries
            let expected = block % pageEntries < entries.count ? entries[block % pageEntries] : ChunkID.zero
            if expected != id { return block }
        }
        return nil
    }
}
