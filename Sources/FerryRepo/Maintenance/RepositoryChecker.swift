import FerryBlob
import Foundation
import Synchronization

/// Verifies a repository's structure and, on request, its data (`ferry check`).
///
/// Always: every index object opens; every pack is listed with the size its index records, and
/// its header and trailer open and agree with the index; every snapshot manifest opens and every
/// block-map page and chunk it references is indexed. With `readData`, whole packs are read,
/// their digests compared with their names, and every chunk decrypted, decompressed and re-hashed.
/// Duplicate chunks (from concurrent writers) and packs no index lists (left by an interrupted
/// backup) are legal and reported only as notes.
public struct RepositoryChecker: Sendable {
    /// What to read.
    public enum DataCheck: Sendable {
        case none
        case all
        /// A random fraction (0...1) of the packs.
        case subset(Double)
    }

    /// The findings of a check.
    public struct Report: Sendable {
        /// Problems: the repository is damaged where they say.
        public var errors: [String] = []
        /// Observations that need no action.
        public var notes: [String] = []
        public var packs = 0
        public var packsRead = 0
        public var chunksVerified = 0
        public var snapshots = 0
        public var indexObjects = 0

        public var isClean: Bool { errors.isEmpty }
    }

    public let repository: Repository
    public let dataCheck: DataCheck

    public init(repository: Repository, dataCheck: DataCheck = .none) {
        self.repository = repository
        self.dataCheck = dataCheck
    }

    public func run() async throws -> Report {
        var report = Report()
        report.errors += repository.indexProblems
        report.indexObjects = repository.indexNames.count
        let store = repository.store
        let listed = try await Repository.wrap { try await store.list(prefix: ObjectName.packsPrefix) }
        var sizes: [ChunkID: Int64] = [:]
        for object in listed {
            guard let id = ObjectName.id(in: object.name), ObjectName.pack(id) == object.name else {
                report.notes.append("unexpected object \(object.name)")
                continue
            }
            sizes[id] = object.size
        }
        report.packs = sizes.count

        // Index entries grouped by pack, checked against the listing. Tombstoned chunks (marked
        // by a prune) may already have lost their packs: that is only an error for chunks a
        // snapshot references, which the snapshot walk below checks.
        var indexed: [ChunkID: [(ChunkID, ChunkLocation)]] = [:]
        var packInfo: [ChunkID: IndexObject.Pack] = [:]
        var visible: Set<ChunkID> = []
        repository.index.forEach { id, location, tombstoned in
            indexed[location.pack.id, default: []].append((id, location))
            packInfo[location.pack.id] = location.pack
            if !tombstoned { visible.insert(location.pack.id) }
        }
        for (packID, pack) in packInfo {
            let name = ObjectName.pack(packID)
            guard let size = sizes[packID] else {
                if visible.contains(packID) {
                    report.errors.append("\(name) is missing: \(indexed[packID]?.count ?? 0) indexed chunks are lost")
                } else {
                    report.notes.append("\(name) was removed by a prune; its index entries are tombstoned")
                }
                continue
            }
            if size != Int64(pack.size) {
                report.errors.append("\(name) is \(size) bytes but its index records \(pack.size) (truncated or replaced)")
            }
        }

        // Every listed pack: header and trailer, or the whole pack when reading data.
        let readAll: Set<ChunkID>
        switch dataCheck {
        case .none: readAll = []
        case .all: readAll = Set(sizes.keys)
        case .subset(let fraction):
            let count = Int((Double(sizes.count) * fraction).rounded(.up))
            readAll = Set(sizes.keys.shuffled().prefix(count))
        }
        let results = try await checkPacks(sizes: sizes, readAll: readAll, indexed: indexed)
        for result in results {
            report.errors += result.errors
            report.notes += result.notes
            report.chunksVerified += result.chunksVerified
            if result.read { report.packsRead += 1 }
        }

        // Snapshots and everything they reference.
        let (snapshots, problems) = try await repository.snapshots()
        report.errors += problems
        report.snapshots = snapshots.count
        var pagesSeen: Set<ChunkID> = []
        let existing = Set(sizes.keys)
        for snapshot in snapshots {
            report.errors += await checkSnapshot(snapshot, pagesSeen: &pagesSeen, packs: existing)
        }

        let sessions = try await Repository.wrap { try await store.list(prefix: ObjectName.sessionsPrefix) }
        if !sessions.isEmpty {
            report.notes.append("\(sessions.count) writer session marker(s) present (backups running, or left by interrupted ones)")
        }
        return report
    }

    private struct PackResult: Sendable {
        var errors: [String] = []
        var notes: [String] = []
        var chunksVerified = 0
        var read = false
    }

    private func checkPacks(sizes: [ChunkID: Int64], readAll: Set<ChunkID>, indexed: [ChunkID: [(ChunkID, ChunkLocation)]]) async throws
        -> [PackResult]
    {
        let ids = Array(sizes.keys)
        let cursor = Cursor()
        let repository = self.repository
        return try await withThrowingTaskGroup(of: [PackResult].self) { group in
            for _ in 0..<min(8, max(1, ids.count)) {
                group.addTask {
                    var results: [PackResult] = []
                    while let k = cursor.next(below: ids.count) {
                        let id = ids[k]
                        results.append(
                            try await Self.checkPack(
                                id, size: sizes[id]!, read: readAll.contains(id), indexed: indexed[id] ?? [], repository: repository))
                    }
                    return results
                }
            }
            var all: [PackResult] = []
            for try await results in group { all += results }
            return all
        }
    }

    private static func checkPack(_ id: ChunkID, size: Int64, read: Bool, indexed: [(ChunkID, ChunkLocation)], repository: Repository)
        async throws -> PackResult
    {
        let name = ObjectName.pack(id)
        let store = repository.store
        var result = PackResult()
        result.read = read
        do {
            var bytes: [UInt8] = []
            let entries: [PackEntry]
            if read {
                bytes = try await store.get(name)
                if PackFormat.id(of: bytes) != id {
                    result.errors.append("\(name): header or trailer does not match its name (damaged)")
                }
                entries = try repository.packEntries(bytes, name: name).entries
            } else {
                entries = try await trailerEntries(name, size: size, repository: repository)
            }
            if indexed.isEmpty {
                result.notes.append("\(name) is not indexed (left by an interrupted backup; prune removes it)")
            }
            let byID = Dictionary(entries.map { ($0.id, $0) }, uniquingKeysWith: { first, _ in first })
            for (chunk, location) in indexed {
                guard let entry = byID[chunk], entry.offset == location.offset, entry.length == location.length,
                    entry.rawLength == location.rawLength
                else {
                    result.errors.append("\(name): its trailer does not list chunk \(chunk.short) where the index says")
                    continue
                }
            }
            if read {
                let codec = repository.codec(
                    for: IndexObject.Pack(
                        id: id, salt: try PackFormat.parseHeader(bytes[...], name: name).salt, kind: .data, size: UInt32(bytes.count)))
                for entry in entries {
                    var plain = [UInt8](repeating: 0, count: Int(entry.rawLength))
                    do {
                        try bytes.withUnsafeBytes { raw in
                            let record = UnsafeRawBufferPointer(rebasing: raw[Int(entry.offset)..<Int(entry.offset) + Int(entry.length)])
                            try plain.withUnsafeMutableBytes { try codec.decode(record, id: entry.id, into: $0, pack: name) }
                        }
                        result.chunksVerified += 1
                    } catch let error as RepositoryError {
                        result.errors.append(error.description)
                    }
                }
            }
        } catch let error as RepositoryError {
            result.errors.append(error.description)
        } catch let error as ObjectStoreError {
            result.errors.append(error.description)
        }
        return result
    }

    /// Reads only a pack's header, footer and trailer, and opens the trailer.
    private static func trailerEntries(_ name: String, size: Int64, repository: Repository) async throws -> [PackEntry] {
        let store = repository.store
        let minimum = Int64(PackFormat.headerSize + PackFormat.footerSize)
        guard size >= minimum else {
            throw RepositoryError.corruptObject(name: name, detail: "\(size) bytes is too short to be a pack")
        }
        let header = try await store.get(name, range: 0..<Int64(PackFormat.headerSize))
        let footer = try await store.get(name, range: (size - Int64(PackFormat.footerSize))..<size)
        let (length, count) = try PackFormat.parseFooter(footer[...], name: name)
        guard Int64(length) <= size - minimum else {
            throw RepositoryError.corruptObject(name: name, detail: "trailer length \(length) exceeds the pack")
        }
        let trailerStart = size - Int64(PackFormat.footerSize) - Int64(length)
        let trailer = try await store.get(name, range: trailerStart..<(size - Int64(PackFormat.footerSize)))
        return try repository.packEntries(header: header, trailer: trailer, count: count, trailerStart: Int(trailerStart), name: name)
            .entries
    }

    private func checkSnapshot(_ snapshot: Snapshot, pagesSeen: inout Set<ChunkID>, packs: Set<ChunkID>) async -> [String] {
        var errors: [String] = []
        let label = "snapshot \(snapshot.id.short)"
        for volume in snapshot.manifest.volumes {
            guard volume.pages.count == volume.pageCount else {
                errors.append("\(label): volume \(volume.name) has \(volume.pages.count) block-map pages, expected \(volume.pageCount)")
                continue
            }
            for page in 0..<volume.pageCount {
                do {
                    let id = try volume.pageID(page)
                    guard pagesSeen.insert(id).inserted else { continue }
                    let entries = try await repository.blockMapPage(volume, page: page).entries
                    for entry in entries where !entry.isZero {
                        if let problem = chunkProblem(entry, packs: packs) { errors.append("\(label): \(problem) (volume \(volume.name))") }
                    }
                } catch {
                    errors.append("\(label): \(Self.describe(error))")
                }
            }
        }
        if let resources = snapshot.manifest.resources {
            do {
                var listed = 0
                for page in resources.pages.indices {
                    let entries = try await repository.resourceCatalogPage(resources, page: page).entries
                    listed += entries.count
                    for entry in entries {
                        if let problem = chunkProblem(try entry.objectID(), packs: packs) {
                            errors.append("\(label): \(entry.kind) \(entry.namespace.map { "\($0)/" } ?? "")\(entry.name): \(problem)")
                        }
                    }
                }
                if listed != resources.count {
                    errors.append("\(label): the resource catalog lists \(listed) objects, the manifest says \(resources.count)")
                }
            } catch {
                errors.append("\(label): \(Self.describe(error))")
            }
        }
        return errors
    }

    /// Why a chunk a snapshot references cannot be read, or nil.
    private func chunkProblem(_ id: ChunkID, packs: Set<ChunkID>) -> String? {
        guard let location = repository.index.location(of: id) else { return "chunk \(id.short) is not in the repository" }
        if !packs.contains(location.pack.id) && repository.index.isTombstoned(id) {
            return "chunk \(id.short) is in \(location.packName), which is missing"
        }
        return nil
    }

    private static func describe(_ error: any Error) -> String {
        (error as? RepositoryError)?.description ?? "\(error)"
    }
}

/// Hands out indices below a bound to concurrent tasks.
final class Cursor: Sendable {
    private let counter = Mutex<Int>(0)

    func next(below limit: Int) -> Int? {
        counter.withLock { value in
            guard value < limit else { return nil }
            defer { value += 1 }
            return value
        }
    }
}
