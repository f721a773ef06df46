import FerryBlob
import FerryRepo

/// Brings chunks into the shared cache. The chunks asked for that are neither cached nor
/// already being fetched are grouped by pack and read as ranges of neighbouring records (spans
/// of up to 8 MiB, gaps up to 256 KiB read through, as restore does), then each is decrypted,
/// decompressed and verified against its id. A chunk that does not verify fails alone: its
/// readers get the error, the other chunks of the span are served.
public final class ChunkFetcher: Sendable {
    /// Largest span of a pack fetched in one read.
    public static let maximumSpan: Int64 = 8 << 20
    /// Largest unused gap between records read together.
    public static let maximumGap: Int64 = 256 << 10

    public typealias Cache = FlightCache<ChunkID, ChunkData>

    /// Where a chunk will come from.
    public enum Source: Sendable {
        case cached(ChunkData)
        case flight(Cache.Flight)

        public func value() async throws -> ChunkData {
            switch self {
            case .cached(let data): data
            case .flight(let flight): try await flight.value()
            }
        }
    }

    public let repository: Repository
    public let cache: Cache
    let limiter: FetchLimiter
    let log: MountLog

    /// - Parameters:
    ///   - cacheBytes: the most plaintext the cache holds.
    ///   - concurrency: pack reads in flight at once.
    public init(repository: Repository, cacheBytes: Int, concurrency: Int = 8, log: MountLog) {
        self.repository = repository
        cache = Cache(capacity: cacheBytes) { $0.count }
        limiter = FetchLimiter(width: concurrency)
        self.log = log
    }

    /// Where each of `ids` will come from, starting the pack reads needed for those that are
    /// neither cached nor in flight.
    func request(_ ids: some Sequence<ChunkID>, priority: FetchLimiter.Priority) -> [ChunkID: Source] {
        var sources: [ChunkID: Source] = [:]
        var mine: [Cache.Flight] = []
        for id in ids where sources[id] == nil {
            switch cache.claim(id) {
            case .cached(let data): sources[id] = .cached(data)
            case .waiting(let flight): sources[id] = .flight(flight)
            case .mine(let flight):
                sources[id] = .flight(flight)
                mine.append(flight)
            }
        }
        for span in plan(mine) {
            Task { await self.fetch(span, priority: priority) }
        }
        return sources
    }

    /// Starts reading `ids` ahead of their readers (nobody waits for them).
    func prefetch(_ ids: some Sequence<ChunkID>) {
        var mine: [Cache.Flight] = []
        for id in ids where !cache.isPresentOrInFlight(id) {
            if case .mine(let flight) = cache.claim(id) { mine.append(flight) }
        }
        for span in plan(mine) {
            Task { await self.fetch(span, priority: .readAhead) }
        }
    }

    /// One ranged read of a pack and the chunks it yields.
    struct Span: Sendable {
        var pack: IndexObject.Pack
        var name: String
        var range: Range<Int64>
        var chunks: [(flight: Cache.Flight, location: ChunkLocation)]
    }

    /// Groups flights by pack into spans; a chunk the index does not know fails at once.
    func plan(_ flights: [Cache.Flight]) -> [Span] {
        var byPack: [ChunkID: [(flight: Cache.Flight, location: ChunkLocation)]] = [:]
        for flight in flights {
            guard let location = repository.index.location(of: flight.key) else {
                let error = RepositoryError.missingChunk(id: flight.key, context: "the mounted snapshot")
                log.chunkFailed(flight.key, pack: nil, error: error)
                cache.complete(flight, with: .failure(error))
                continue
            }
            byPack[location.pack.id, default: []].append((flight, location))
        }
        var spans: [Span] = []
        for (_, chunks) in byPack {
            var current: Span?
            for chunk in chunks.sorted(by: { $0.location.offset < $1.location.offset }) {
                let start = Int64(chunk.location.offset)
                let end = start + Int64(chunk.location.length)
                if var span = current, start - span.range.upperBound <= Self.maximumGap, end - span.range.lowerBound <= Self.maximumSpan {
                    span.range = span.range.lowerBound..<max(span.range.upperBound, end)
                    span.chunks.append(chunk)
                    current = span
                } else {
                    if let span = current { spans.append(span) }
                    current = Span(pack: chunk.location.pack, name: chunk.location.packName, range: start..<end, chunks: [chunk])
                }
            }
            if let span = current { spans.append(span) }
        }
        return spans.sorted { ($0.name, $0.range.lowerBound) < ($1.name, $1.range.lowerBound) }
    }

    /// Reads one span and completes its flights, each with its verified chunk or its error.
    func fetch(_ span: Span, priority: FetchLimiter.Priority) async {
        let bytes: [UInt8]
        do {
            bytes = try await limiter.run(priority) {
                do {
                    return try await repository.store.get(span.name, range: span.range)
                } catch let error as ObjectStoreError {
                    throw RepositoryError.store(error)
                }
            }
            guard bytes.count == span.range.count else {
                throw RepositoryError.corruptObject(
                    name: span.name,
                    detail: "expected \(span.range.count) bytes at offset \(span.range.lowerBound), got \(bytes.count) (truncated)")
            }
        } catch {
            for chunk in span.chunks {
                log.chunkFailed(chunk.flight.key, pack: span.name, error: error)
                cache.complete(chunk.flight, with: .failure(error))
            }
            return
        }
        let codec = repository.codec(for: span.pack)
        let largest = span.chunks.map { Int($0.location.length) }.max() ?? 0
        let scratch = UnsafeMutableRawBufferPointer.allocate(byteCount: max(largest, 1), alignment: 16)
        defer { scratch.deallocate() }
        for (flight, location) in span.chunks {
            let start = Int(Int64(location.offset) - span.range.lowerBound)
            do {
                let data = try bytes.withUnsafeBytes { raw in
                    let record = UnsafeRawBufferPointer(rebasing: raw[start..<start + Int(location.length)])
                    return try ChunkData(count: Int(location.rawLength)) { output in
                        try codec.decode(record, id: flight.key, into: output, scratch: scratch, pack: span.name)
                    }
                }
                cache.complete(flight, with: .success(data))
            } catch {
                log.chunkFailed(flight.key, pack: span.name, error: error)
                cache.complete(flight, with: .failure(error))
            }
        }
    }
}
