import FerryBlob
import FerryMount
import FerryRepo
import FerryTestSupport
import Foundation
import Synchronization
import Testing

/// A directory repository holding backups made by the real `ferry`, opened in-process too.
struct MountFixture {
    let dir: TemporaryDirectory
    let ferry: FerryProcess
    static let password = "mount-test-password"
    var repo: String { dir.file("repo") }

    init(blockSize: String = "64K") async throws {
        dir = try TemporaryDirectory("ferry-mount")
        ferry = FerryProcess(password: Self.password, extra: ["FERRY_CACHE_DIR": dir.file("cache")])
        try await expectSuccess(["repo", "init", "--repo", repo, "--block-size", blockSize])
    }

    @discardableResult
    func expectSuccess(_ args: [String], sourceLocation: SourceLocation = #_sourceLocation) async throws -> ChildProcess.Result {
        let result = try await ferry.run(args)
        #expect(result.succeeded, "ferry \(args.joined(separator: " ")) failed: \(result)", sourceLocation: sourceLocation)
        if !result.succeeded { throw ChildProcess.Failed(command: ["ferry"] + args, result: result) }
        return result
    }

    /// `ferry backup --json`, returning the snapshot id.
    func backup(_ path: String, name: String = "disk") async throws -> String {
        try await expectSuccess(["backup", path, "--repo", repo, "--name", name, "--json"]).json().string("snapshot")
    }

    func open() async throws -> Repository {
        try await Repository.open(store: try LocalDirectoryStore(root: repo), password: Array(Self.password.utf8))
    }

    /// The pack files of the repository whose header says `kind` (0 data, 1 metadata).
    func packs(kind: UInt8) throws -> [String] {
        let root = repo + "/packs"
        let files = try FileManager.default.subpathsOfDirectory(atPath: root).filter { $0.count > 60 && !$0.contains("/.") }
        return try files.map { root + "/" + $0 }.filter { path in
            let handle = try FileHandle(forReadingFrom: URL(fileURLWithPath: path))
            defer { try? handle.close() }
            let header = try handle.read(upToCount: 10) ?? Data()
            return header.count == 10 && header[9] == kind
        }
    }

    func remove() {
        dir.remove()
    }
}

/// A test image: random data, text, explicit zeros, a hole, more random data with a block that
/// repeats the first one, and a size that is not a multiple of the block size.
enum TestImage {
    static let size: Int64 = (5 << 20) + 12_345
    /// Byte ranges that hold data (block-aligned at 64 KiB); the rest reads as zeros.
    static let dataRanges: [Range<Int64>] = [0..<(2 << 20), (4 << 20)..<size]

    static func make(_ path: String, seed: UInt64 = 1) throws -> [UInt8] {
        var random = DeterministicBytes(seed: seed)
        try ImageFile.create(path, size: size)
        var expected = [UInt8](repeating: 0, count: Int(size))
        let first = random.bytes(1 << 20)
        let text = random.text(1 << 20)
        var tail = random.bytes(Int(size) - (4 << 20))
        tail.replaceSubrange(0..<(64 << 10), with: first[0..<(64 << 10)])
        try ImageFile.write(path, at: 0, first)
        try ImageFile.write(path, at: 1 << 20, text)
        try ImageFile.write(path, at: 2 << 20, [UInt8](repeating: 0, count: 1 << 20))
        try ImageFile.write(path, at: 4 << 20, tail)
        expected.replaceSubrange(0..<(1 << 20), with: first)
        expected.replaceSubrange((1 << 20)..<(2 << 20), with: text)
        expected.replaceSubrange((4 << 20)..<Int(size), with: tail)
        return expected
    }
}

/// Lines a mount logged, for assertions.
final class LogLines: Sendable {
    private let lines = Mutex<[String]>([])
    var all: [String] { lines.withLock { $0 } }
    var log: MountLog { MountLog { line in self.lines.withLock { $0.append(line) } } }
}
