// Many small work units into one repository, as `ferry agent`s store them (scripts/bench.sh
// --agents many, --cluster-backup): each unit opens the repository without its index, begins a
// write session (which reads the index: cache, then the index objects written since), stores one
// 4 KiB data chunk, its block-map page and page list, flushes and ends the session. Nothing is
// committed. Prints the time per unit for each batch, so a per-unit cost that grows with the
// number of index objects shows as a rising column.
//
//   ferry-agent-units DIR [--units 6000] [--writers 2] [--batch 500]
//
// An existing DIR/repo is added to (so a run can start at a given number of index objects).
// Each writer is one task with its own index cache directory (DIR/cache-<n>), as each agent
// process has its own; the writers run at once. The repository's password is FERRY_PASSWORD.
import FerryBlob
import FerryRepo
import Foundation

let arguments = Array(CommandLine.arguments.dropFirst())
guard let directory = arguments.first else {
    FileHandle.standardError.write(Data("usage: ferry-agent-units DIR [--units N] [--writers N] [--batch N] [--file-cache]\n".utf8))
    exit(2)
}
@MainActor func option(_ name: String, _ fallback: Int) -> Int {
    guard let i = arguments.firstIndex(of: name), i + 1 < arguments.count, let value = Int(arguments[i + 1]) else { return fallback }
    return value
}
let units = option("--units", 6000)
let writers = max(1, option("--writers", 2))
let batch = max(1, option("--batch", 500))
let keepingTables = !arguments.contains("--file-cache")
let password = Array((ProcessInfo.processInfo.environment["FERRY_PASSWORD"] ?? "synthetic").utf8)

let store = try LocalDirectoryStore(root: directory + "/repo", create: true)
do {
    try await Repository.initialize(store: store, password: password)
} catch RepositoryError.alreadyInitialized {
    // A repository from an earlier run: the units add to it.
}

/// One unit: what Agent.backup does for a 1 MiB volume holding 4 KiB of data.
func unit(cache: IndexCache) async throws {
    let repository = try await Repository.open(store: store, password: password, loadIndex: false, cache: cache)
    let session = try await repository.beginSession()
    do {
        var data = [UInt8](repeating: 0, count: 4096)
        for i in 0..<4 { withUnsafeBytes(of: UInt64.random(in: 0...UInt64.max)) { data.replaceSubrange(i * 8..<i * 8 + 8, with: $0) } }
        let id = session.repository.hasher.id(of: data)
        if session.claim(id) {
            let builder = session.makeDataPack(maxChunk: data.count)
            data.withUnsafeBytes { _ = builder.append($0, id: id, scratch: ChunkScratch(capacity: data.count)) }
            try await session.store(builder)
        }
        let page = try await session.storeMetadata(BlockMapPage(entries: [id]).encode())
        _ = try await PageList.store([page], in: session)
        try await session.flush()
        await session.end()
    } catch {
        await session.end()
        throw error
    }
}

/// Units done, and when each batch of `batch` units ended.
actor Progress {
    var done = 0
    var last = ContinuousClock.now
    func finished() -> (Int, Duration)? {
        done += 1
        guard done % batch == 0 else { return nil }
        let now = ContinuousClock.now
        defer { last = now }
        return (done, now - last)
    }
}

let progress = Progress()
let started = ContinuousClock.now
print("units  ms/unit (wall, \(writers) writers)")
try await withThrowingTaskGroup(of: Void.self) { group in
    for writer in 0..<writers {
        let cache = IndexCache(directory: directory + "/cache-\(writer)", keepingTables: keepingTables)
        let share = units / writers + (writer < units % writers ? 1 : 0)
        group.addTask {
            for _ in 0..<share {
                try await unit(cache: cache)
                if let (done, elapsed) = await progress.finished() {
                    let ms = Double(elapsed.components.attoseconds) / 1e15 + Double(elapsed.components.seconds) * 1e3
                    print(String(format: "%6d  %7.2f", done, ms / Double(batch)))
                }
            }
        }
    }
    try await group.waitForAll()
}
print("\(units) units in \(ContinuousClock.now - started)")
