import FerryBlob
import FerryRepo
import FerrySystem
import FerryVolume
import Foundation

/// How to restore.
public struct RestoreRequest: Sendable {
    /// Write to a device even if it is mounted or held by another process.
    public var force: Bool
    /// Concurrent fetch-and-write workers.
    public var workers: Int
    public var progress: TransferProgress?

    public init(force: Bool = false, workers: Int = 4, progress: TransferProgress? = nil) {
        self.force = force
        self.workers = workers
        self.progress = progress
    }
}

/// What a restore did.
public struct RestoreResult: Sendable {
    public var size: Int64 = 0
    /// Bytes written from chunks.
    public var bytesWritten: Int64 = 0
    /// Bytes of zero blocks (punched, zeroed, or left as holes).
    public var zeroBytes: Int64 = 0
    public var chunksFetched = 0
    public var seconds: Double = 0
}

/// Restores one volume of a snapshot to a file or block device.
///
/// One block-map page at a time: runs of zero blocks become holes (or zeroed ranges on a
/// device); the page's chunks are grouped by pack and fetched as ranged reads of neighbouring
/// records, decrypted, decompressed and verified against their ids, then written to every
/// block that uses them. A chunk that fails verification stops the restore with an error naming
/// it and its pack: a wrong byte is never written silently.
public struct VolumeRestore: Sendable {
    /// Largest span of a pack fetched in one read.
    static let maxSpan: Int64 = 8 << 20
    /// Largest unused gap between records read together.
    static let maxGap: Int64 = 256 << 10

    public let repository: Repository
    public let volume: VolumeManifest
    public let target: String
    public let request: RestoreRequest
    /// The threads that write the target: this restore's own, so that writes to a device that
    /// no longer answers hold up only this restore.
    let writes: BlockingExecutor

    public init(repository: Repository, volume: VolumeManifest, target: String, request: RestoreRequest = RestoreRequest()) {
        self.repository = repository
        self.volume = volume
        self.target = target
        self.request = request
        writes = BlockingExecutor(label: "ferry.write", width: request.workers + 1)
    }

    public func run() async throws -> RestoreResult {
        let started = ContinuousClock.now
        let output = try RestoreTarget(path: target, size: volume.size, force: request.force)
        var result = RestoreResult()
        result.size = volume.size
        do {
            for page in 0..<volume.pageCount {
                let entries = try await repository.blockMapPage(volume, page: page).entries
                let first = page * volume.pageEntries
                result.zeroBytes += try zeroRuns(entries, first: first, output: output)
                let spans = try plan(entries, first: first)
                let (written, chunks) = try await restore(spans, output: output)
                result.bytesWritten += written
                result.chunksFetched += chunks
            }
            try output.finish()
        } catch {
            output.abandon()
            throw error
        }
        result.seconds = (ContinuousClock.now - started).seconds
        return result
    }

    private func blockRange(_ block: Int) -> Range<Int64> {
        let start = Int64(block) * Int64(volume.blockSize)
        return start..<min(volume.size, start + Int64(volume.blockSize))
    }

    /// Zeroes the runs of zero entries; returns their total size.
    private func zeroRuns(_ entries: [ChunkID], first: Int, output: RestoreTarget) throws -> Int64 {
        var total: Int64 = 0
        var i = 0
        while i < entries.count {
            guard entries[i].isZero else { i += 1; continue }
            var j = i
            while j + 1 < entries.count && entries[j + 1].isZero { j += 1 }
            let range = blockRange(first + i).lowerBound..<blockRange(first + j).upperBound
            try output.zero(range)
            total += Int64(range.count)
            request.progress?.advance(Int64(range.count))
            i = j + 1
        }
        return total
    }

    /// One ranged read of a pack and the chunks it yields.
    struct Span: Sendable {
        var pack: IndexObject.Pack
        var range: Range<Int64>
        var chunks: [(id: ChunkID, location: ChunkLocation, offsets: [Int64])]
    }

    private func plan(_ entries: [ChunkID], first: Int) throws -> [Span] {
        var uses: [ChunkID: [Int64]] = [:]
        for (i, id) in entries.enumerated() where !id.isZero {
            uses[id, default: []].append(blockRange(first + i).lowerBound)
        }
        var byPack: [ChunkID: [(id: ChunkID, location: ChunkLocation, offsets: [Int64])]] = [:]
        for (id, offsets) in uses {
            guard let location = repository.index.location(of: id) else {
                throw RepositoryError.missingChunk(id: id, context: "volume \(volume.name) at byte \(offsets[0])")
            }
            byPack[location.pack.id, default: []].append((id, location, offsets))
        }
        var spans: [Span] = []
        for (_, chunks) in byPack {
            let sorted = chunks.sorted { $0.location.offset < $1.location.offset }
            var current: Span?
            for chunk in sorted {
                let start = Int64(chunk.location.offset)
                let end = start + Int64(chunk.location.length)
                if var span = current, start - span.range.upperBound <= Self.maxGap, end - span.range.lowerBound <= Self.maxSpan {
                    span.range = span.range.lowerBound..<max(span.range.upperBound, end)
                    span.chunks.append(chunk)
                    current = span
                } else {
                    if let span = current { spans.append(span) }
                    current = Span(pack: chunk.location.pack, range: start..<end, chunks: [chunk])
                }
            }
            if let span = current { spans.append(span) }
        }
        return spans
    }

    private func restore(_ spans: [Span], output: RestoreTarget) async throws -> (Int64, Int) {
        let cursor = WorkCursor()
        let largest = spans.lazy.flatMap(\.chunks).map { Int($0.location.rawLength) }.max() ?? 0
        let largestRecord = spans.lazy.flatMap(\.chunks).map { Int($0.location.length) }.max() ?? 0
        return try await withThrowingTaskGroup(of: (Int64, Int).self) { group in
            for _ in 0..<min(request.workers, max(1, spans.count)) {
                group.addTask {
                    let plain = BlockBuffer(capacity: largest)
                    let scratch = BlockBuffer(capacity: largestRecord)
                    var written: Int64 = 0
                    var chunks = 0
                    while true {
                        let k = cursor.next()
                        guard k < spans.count else { break }
                        try Task.checkCancellation()
                        let (w, c) = try await restore(spans[k], output: output, plain: plain, scratch: scratch)
                        written += w
                        chunks += c
                    }
                    return (written, chunks)
                }
            }
            var total: (Int64, Int) = (0, 0)
            for try await (w, c) in group {
                total.0 += w
                total.1 += c
            }
            return total
        }
    }

    /// Fetches one span, then decodes, verifies and writes its chunks, reusing the worker's buffers.
    private func restore(_ span: Span, output: RestoreTarget, plain: BlockBuffer, scratch: BlockBuffer) async throws -> (Int64, Int) {
        let name = ObjectName.pack(span.pack.id)
        let store = repository.store
        let bytes: [UInt8]
        do {
            bytes = try await store.get(name, range: span.range)
        } catch let error as ObjectStoreError {
            throw RepositoryError.store(error)
        }
        let codec = repository.codec(for: span.pack)
        var written: Int64 = 0
        for chunk in span.chunks {
            let length = Int(chunk.location.rawLength)
            let start = Int(Int64(chunk.location.offset) - span.range.lowerBound)
            try bytes.withUnsafeBytes { raw in
                let record = UnsafeRawBufferPointer(rebasing: raw[start..<start + Int(chunk.location.length)])
                try codec.decode(record, id: chunk.id, into: plain.prefix(length), scratch: scratch.bytes, pack: name)
            }
            let offsets = chunk.offsets
            try await writes.run {
                for offset in offsets { try output.write(at: offset, UnsafeRawBufferPointer(plain.prefix(length))) }
            }
            let total = Int64(length) * Int64(offsets.count)
            written += total
            request.progress?.advance(total)
        }
        return (written, span.chunks.count)
    }
}
