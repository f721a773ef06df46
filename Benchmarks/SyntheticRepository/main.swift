// Builds a synthetic repository for the maintenance and repository-scale benchmarks
// (scripts/bench.sh --maintenance, --repository-scale): N snapshots of a volume whose blocks
// are small unique chunks, each snapshot changing a share of the previous one's blocks, so the
// repository holds about `chunks` distinct chunks.
//
//   ferry-synthetic-repo DIR [--chunks 1000000] [--snapshots 30] [--blocks 100000]
//                            [--volume-blocks N] [--block-size 65536] [--contiguous]
//
// --blocks is how many of the volume's blocks hold data; --volume-blocks (default: --blocks) is
// the volume's size in blocks, the rest being zero (sparse), so a snapshot's logical size is
// volume-blocks × block-size while the repository stores only the chunks. --contiguous makes
// each snapshot's changes one run of blocks (a day's writes in one region) instead of scattered
// blocks, so only the block-map pages of that run are new. Every snapshot is committed by its
// own write session, as `ferry backup` does. The repository's password is FERRY_PASSWORD.
import FerryBlob
import FerryRepo
import Foundation

let arguments = Array(CommandLine.arguments.dropFirst())
guard let directory = arguments.first else {
    FileHandle.standardError.write(
        Data(
            ("usage: ferry-synthetic-repo DIR [--chunks N] [--snapshots N] [--blocks N] [--volume-blocks N] [--block-size N]"
                + " [--contiguous]\n").utf8))
    exit(2)
}
@MainActor func option(_ name: String, _ fallback: Int) -> Int {
    guard let i = arguments.firstIndex(of: name), i + 1 < arguments.count, let value = Int(arguments[i + 1]) else { return fallback }
    return value
}
let totalChunks = option("--chunks", 1_000_000)
let snapshotCount = option("--snapshots", 30)
let blocks = option("--blocks", 100_000)
let volumeBlocks = max(blocks, option("--volume-blocks", blocks))
let blockSize = option("--block-size", 64 << 10)
let contiguous = arguments.contains("--contiguous")
let password = Array((ProcessInfo.processInfo.environment["FERRY_PASSWORD"] ?? "synthetic").utf8)
let changedPerSnapshot = min(blocks, max(0, (totalChunks - blocks) / max(1, snapshotCount - 1)))

let store = try LocalDirectoryStore(root: directory, create: true)
try await Repository.initialize(store: store, password: password, blockSize: blockSize, packSize: 4 << 20)
// Each session reopens the repository it was begun from; starting from the last session's
// view, it fetches only the index objects written since.
var repository = try await Repository.open(store: store, password: password)
let pageEntries = repository.config.blockMapPageEntries

func freshChunk() -> [UInt8] {
    var generator = SystemRandomNumberGenerator()
    return (0..<8).flatMap { _ in withUnsafeBytes(of: generator.next()) { Array($0) } }
}

var entries = [ChunkID](repeating: .zero, count: volumeBlocks)
// Page ids of the previous snapshot; a page none of whose blocks changed keeps its id.
var pageIDs = [ChunkID?](repeating: nil, count: (volumeBlocks + pageEntries - 1) / pageEntries)
var stored = 0
let started = ContinuousClock.now
for snapshot in 0..<snapshotCount {
    let session = try await repository.beginSession()
    let scratch = ChunkScratch(capacity: 64)
    var builder = session.makeDataPack(maxChunk: 64)
    let changes: [Int]
    if snapshot == 0 {
        changes = Array(0..<blocks)
    } else if contiguous {
        let start = Int.random(in: 0...(blocks - changedPerSnapshot))
        changes = Array(start..<start + changedPerSnapshot)
    } else {
        changes = (0..<changedPerSnapshot).map { _ in Int.random(in: 0..<blocks) }
    }
    for block in changes {
        let chunk = freshChunk()
        let id = session.repository.hasher.id(of: chunk)
        entries[block] = id
        pageIDs[block / pageEntries] = nil
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
    for (number, start) in stride(from: 0, to: volumeBlocks, by: pageEntries).enumerated() {
        if let id = pageIDs[number] {
            pages.append(id)
            continue
        }
        let page = BlockMapPage(entries: Array(entries[start..<min(volumeBlocks, start + pageEntries)]))
        let id = try await session.storeMetadata(page.encode())
        pageIDs[number] = id
        pages.append(id)
    }
    let volume = VolumeManifest(
        name: "disk", source: "synthetic", format: "raw", size: Int64(volumeBlocks) * Int64(blockSize), blockSize: blockSize,
        pageEntries: pageEntries, pages: pages, changeTracking: nil, stats: VolumeStats())
    let time = Date().addingTimeInterval(Double(snapshot - snapshotCount) * 3_600)
    let manifest = SnapshotManifest(time: time, name: "synthetic", hostname: "bench", parent: nil, session: session.id, volumes: [volume])
    _ = try await session.commit(manifest)
    repository = session.repository
    if (snapshot + 1) % 1000 == 0 {
        print("\(snapshot + 1) snapshots, \(stored) chunks, \(ContinuousClock.now - started)")
    }
}
let elapsed = ContinuousClock.now - started
let logical = Double(snapshotCount) * Double(volumeBlocks) * Double(blockSize)
print(
    "built \(snapshotCount) snapshots, \(stored) chunks in \(elapsed); logical \(String(format: "%.2f", logical / 1_099_511_627_776)) TiB")
