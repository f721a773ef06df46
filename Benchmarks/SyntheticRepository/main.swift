// Builds a synthetic repository for the maintenance benchmark (scripts/bench.sh --maintenance):
// N snapshots of a volume whose blocks are small unique chunks, each snapshot changing a share of
// the previous one's blocks, so the repository holds about `chunks` distinct chunks.
//
//   ferry-synthetic-repo DIR [--chunks 1000000] [--snapshots 30] [--blocks 100000]
// The repository's password is FERRY_PASSWORD.
import FerryBlob
import FerryRepo
import Foundation

let arguments = Array(CommandLine.arguments.dropFirst())
guard let directory = arguments.first else {
    FileHandle.standardError.write(Data("usage: ferry-synthetic-repo DIR [--chunks N] [--snapshots N] [--blocks N]\n".utf8))
    exit(2)
}
@MainActor func option(_ name: String, _ fallback: Int) -> Int {
    guard let i = arguments.firstIndex(of: name), i + 1 < arguments.count, let value = Int(arguments[i + 1]) else { return fallback }
    return value
}
let totalChunks = option("--chunks", 1_000_000)
let snapshotCount = option("--snapshots", 30)
let blocks = option("--blocks", 100_000)
let password = Array((ProcessInfo.processInfo.environment["FERRY_PASSWORD"] ?? "synthetic").utf8)
let changedPerSnapshot = max(0, (totalChunks - blocks) / max(1, snapshotCount - 1))

let store = try LocalDirectoryStore(root: directory, create: true)
try await Repository.initialize(store: store, password: password, blockSize: 64 << 10, packSize: 4 << 20)
let repository = try await Repository.open(store: store, password: password)

func freshChunk() -> [UInt8] {
    var generator = SystemRandomNumberGenerator()
    return (0..<8).flatMap { _ in withUnsafeBytes(of: generator.next()) { Array($0) } }
}

var entries = [ChunkID](repeating: .zero, count: blocks)
var stored = 0
let started = ContinuousClock.now
for snapshot in 0..<snapshotCount {
    let session = try await repository.beginSession()
    let scratch = ChunkScratch(capacity: 64)
    var builder = session.makeDataPack(maxChunk: 64)
    let changes = snapshot == 0 ? Array(0..<blocks) : (0..<changedPerSnapshot).map { _ in Int.random(in: 0..<blocks) }
    for block in changes {
        let chunk = freshChunk()
        let id = session.repository.hasher.id(of: chunk)
        entries[block] = id
        guard session.claim(id) else { continue }
        chunk.withUnsafeBytes { _ = builder.append($0, id: id, scratch: scratch) }
        stored += 1
        if builder.isFull {
            try await session.store(builder)
            builder = session.makeDataPack(maxChunk: 64)
        }
    }
    if !builder.isEmpty { try await session.store(builder) }
    var pages: [ChunkID] = []
    for start in stride(from: 0, to: blocks, by: repository.config.blockMapPageEntries) {
        let page = BlockMapPage(entries: Array(entries[start..<min(blocks, start + repository.config.blockMapPageEntries)]))
        pages.append(try await session.storeMetadata(page.encode()))
    }
    let volume = VolumeManifest(
        name: "disk", source: "synthetic", format: "raw", size: Int64(blocks) * 65536, blockSize: 65536,
        pageEntries: repository.config.blockMapPageEntries, pages: pages, changeTracking: nil, stats: VolumeStats())
    let time = Date().addingTimeInterval(Double(snapshot - snapshotCount) * 86_400)
    let manifest = SnapshotManifest(time: time, name: "synthetic", hostname: "bench", parent: nil, session: session.id, volumes: [volume])
    _ = try await session.commit(manifest)
}
let elapsed = ContinuousClock.now - started
print("built \(snapshotCount) snapshots, \(stored) chunks in \(elapsed)")
