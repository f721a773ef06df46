import FerrySystem
import Foundation

/// A local cache of a repository's merged chunk index, so that opening a large repository a
/// second time reads one local file instead of downloading and decoding every index object.
///
/// The file (`<directory>/<repository id>/index`) holds the merged table and the names of the
/// index objects it covers. On open it is validated against the store's listing: objects
/// written since are fetched and merged in; if any covered object has disappeared (prune
/// compacted the index), the cache is discarded and rebuilt. In an encrypted repository the
/// file is sealed with a key derived from the data key, so it can be neither read nor altered
/// (an altered cache could make a backup skip storing data it believes is there).
///
/// A cache that keeps tables (`keepingTables`, for a long-running process that opens the same
/// repository again and again: an agent, the coordinator) also holds the last merged table in
/// memory (`IndexMemory`) and builds on it, and rewrites the file only once the index has grown
/// by an eighth since the file was last read or written, so the cost of opening for one more
/// work unit does not grow with the number of index objects already merged.
public struct IndexCache: Sendable {
    public let directory: String
    /// Whether an open that merged new index objects writes the cache back.
    let writes: Bool
    /// The tables kept in memory between opens (nil: the file is read at every open and written
    /// at every open that merged something).
    let memory: IndexMemory?

    public init(directory: String) {
        self.init(directory: directory, writes: true, memory: nil)
    }

    /// A cache whose copies share the tables they load, kept in memory between opens (at most
    /// four repositories'), with the file rewritten only after the index grew by an eighth.
    public init(directory: String, keepingTables: Bool) {
        self.init(directory: directory, writes: true, memory: keepingTables ? IndexMemory() : nil)
    }

    private init(directory: String, writes: Bool, memory: IndexMemory?) {
        self.directory = directory
        self.writes = writes
        self.memory = memory
    }

    /// The same cache, read but never written: for an open whose table is about to be made
    /// stale (prune's compaction replaces every index object), where writing it would only
    /// hold two more copies of the table.
    var readOnly: IndexCache { IndexCache(directory: directory, writes: false, memory: memory) }

    /// `FERRY_CACHE_DIR`, else `$XDG_CACHE_HOME/ferry`, else `~/.cache/ferry`.
    public static var defaultDirectory: String {
        let env = ProcessInfo.processInfo.environment
        if let dir = env["FERRY_CACHE_DIR"], !dir.isEmpty { return dir }
        if let xdg = env["XDG_CACHE_HOME"], !xdg.isEmpty { return xdg + "/ferry" }
        return (env["HOME"] ?? NSTemporaryDirectory()) + "/.cache/ferry"
    }

    /// What a cache file holds.
    struct Contents: Sendable {
        var names: [String: UInt64] // covered index object -> its created time (ns)
        var index: ChunkIndex
    }

    static let magic = Array("FERRYIDC".utf8)
    static let purpose = "ferry/index-cache/v1"

    func path(for repositoryID: String) -> String {
        directory + "/" + repositoryID + "/index"
    }

    /// The cached contents, or nil when there is none or it cannot be trusted: the table kept in
    /// memory, else the file's. With `listed`, a file covering an index object not listed (prune
    /// compacted the index) is discarded before its table is decoded. (A kept table is returned
    /// as it is: the caller checks what it covers against the listing.)
    func load(repositoryID: String, keys: MasterKeys?, listed: [String]? = nil) -> Contents? {
        if let kept = memory?.contents(repositoryID: repositoryID, keys: keys) { return kept }
        // The file is decrypted where it was read: one buffer, then that buffer and the table.
        guard let payload = payload(repositoryID: repositoryID, keys: keys),
            let contents = try? Self.decode(payload, listed: listed.map(Set.init))
        else { return nil }
        if writes { memory?.keep(contents, repositoryID: repositoryID, keys: keys, inFile: contents.names.count) }
        return contents
    }

    /// Records the table an open merged: kept in memory (if this cache keeps tables), and
    /// written to the file when `merged` added index objects — at once without memory, else
    /// once the number of objects covered differs from the file's by an eighth (at least one).
    func update(_ contents: Contents, merged: Bool, repositoryID: String, keys: MasterKeys?) {
        guard writes else { return }
        guard let memory else {
            if merged { store(contents, repositoryID: repositoryID, keys: keys) }
            return
        }
        let inFile = memory.inFile(repositoryID: repositoryID, keys: keys)
        var written: Int?
        if merged && abs(contents.names.count - inFile) >= max(1, inFile / 8),
            store(contents, repositoryID: repositoryID, keys: keys)
        {
            written = contents.names.count
        }
        memory.keep(contents, repositoryID: repositoryID, keys: keys, inFile: written)
    }

    /// The cache file opened (decrypted in place, or its digest checked), as its plaintext.
    private func payload(repositoryID: String, keys: MasterKeys?) -> [UInt8]? {
        guard var file = Self.read(path(for: repositoryID)), file.count > 24, Array(file[0..<8]) == Self.magic else { return nil }
        let salt = Array(file[8..<24])
        let aad = Self.magic + Array(repositoryID.utf8)
        if let keys {
            guard file.count >= 24 + AESGCM.overhead else { return nil }
            let plainStart = 24 + AESGCM.nonceSize
            let plainCount = file.count - 24 - AESGCM.overhead
            let cipher = keys.subkey(salt: salt, purpose: Self.purpose)
            // AES-GCM decrypts in place (OpenSSL allows the output to be the input).
            let opened = file.withUnsafeMutableBytes { bytes in
                aad.withUnsafeBytes { a in
                    cipher.open(
                        UnsafeRawBufferPointer(rebasing: bytes[24...]), aad: a,
                        into: UnsafeMutableRawBufferPointer(rebasing: bytes[plainStart..<plainStart + plainCount]))
                }
            }
            guard opened == plainCount else { return nil }
            file.removeLast(AESGCM.tagSize)
            file.removeFirst(plainStart)
            return file
        }
        guard file.count > 24 + 32 else { return nil }
        let content = Array(file[24..<(file.count - 32)])
        guard Digest.sha256(content + aad).bytes == Array(file.suffix(32)) else { return nil }
        return content
    }

    /// A whole file's bytes in one array (no intermediate `Data`), or nil.
    private static func read(_ path: String) -> [UInt8]? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else { return nil }
        let size = Int(info.st_size)
        var bytes = [UInt8](repeating: 0, count: size)
        var done = 0
        let ok = bytes.withUnsafeMutableBytes { buffer in
            while done < size {
                let n = Foundation.read(fd, buffer.baseAddress! + done, size - done)
                if n < 0 && errno == EINTR { continue }
                guard n > 0 else { return false }
                done += n
            }
            return true
        }
        return ok ? bytes : nil
    }

    /// Writes the cache atomically (temporary file, then rename); false if it was not written.
    /// Failures are otherwise ignored: the cache is an optimisation. The file is sealed into one buffer and written from it, so at
    /// most the table, its encoding and the sealed file live at once.
    @discardableResult
    func store(_ contents: Contents, repositoryID: String, keys: MasterKeys?) -> Bool {
        guard writes else { return false }
        let salt = SecureRandom.bytes(16)
        let aad = Self.magic + Array(repositoryID.utf8)
        let file: [UInt8] = {
            let payload = Self.encode(contents)
            guard let keys else { return Self.magic + salt + payload + Digest.sha256(payload + aad).bytes }
            var file = [UInt8](repeating: 0, count: 24 + payload.count + AESGCM.overhead)
            file.replaceSubrange(0..<24, with: Self.magic + salt)
            file.withUnsafeMutableBytes { out in
                payload.withUnsafeBytes { p in
                    aad.withUnsafeBytes { a in
                        _ = keys.subkey(salt: salt, purpose: Self.purpose).seal(
                            [p], aad: a, into: UnsafeMutableRawBufferPointer(rebasing: out[24...]))
                    }
                }
            }
            return file
        }()
        let target = path(for: repositoryID)
        let folder = (target as NSString).deletingLastPathComponent
        do {
            try FileManager.default.createDirectory(
                atPath: folder, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        } catch {
            return false
        }
        let temporary = folder + "/.index." + SecureRandom.hex(8)
        let fd = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard fd >= 0 else { return false }
        var done = 0
        let written = file.withUnsafeBytes { buffer in
            while done < buffer.count {
                let n = write(fd, buffer.baseAddress! + done, buffer.count - done)
                if n < 0 && errno == EINTR { continue }
                guard n > 0 else { return false }
                done += n
            }
            return true
        }
        guard close(fd) == 0, written, rename(temporary, target) == 0 else {
            unlink(temporary)
            return false
        }
        return true
    }

    static func encode(_ contents: Contents) -> [UInt8] {
        var w = ByteWriter(capacity: 64 + contents.names.count * 80 + contents.index.packs.count * 69 + contents.index.count * 56)
        w.u32(UInt32(contents.names.count))
        for (name, created) in contents.names.sorted(by: { $0.key < $1.key }) {
            let utf8 = Array(name.utf8)
            w.u16(UInt16(utf8.count))
            w.raw(utf8)
            w.u64(created)
        }
        contents.index.encode(into: &w)
        return w.bytes
    }

    static func decode(_ bytes: [UInt8], listed: Set<String>? = nil) throws -> Contents? {
        var r = ByteReader(bytes)
        let count = Int(try r.u32())
        var names: [String: UInt64] = [:]
        for _ in 0..<count {
            let length = Int(try r.u16())
            let name = String(decoding: try r.raw(length), as: UTF8.self)
            if let listed, !listed.contains(name) { return nil }
            names[name] = try r.u64()
        }
        return Contents(names: names, index: try ChunkIndex(decoding: &r))
    }
}

extension ChunkIndex {
    /// Serialises the table for `IndexCache`: packs, then records with their merge times.
    func encode(into w: inout ByteWriter) {
        IndexObject.Pack.encode(packs, into: &w)
        let (records, located, tombstoned) = storage
        w.u32(UInt32(records.count))
        for (i, r) in records.enumerated() {
            w.id(r.id)
            w.u32(r.pack)
            w.u32(r.offset)
            w.u32(r.length)
            w.u32(r.rawLength)
            w.u64(located[i])
            w.u64(tombstoned[i])
        }
    }

    init(decoding r: inout ByteReader) throws {
        let packs = try IndexObject.Pack.decode(from: &r, name: "index cache")
        let count = Int(try r.u32())
        try r.need(count * 64)
        var records: [Record] = []
        var located: [UInt64] = []
        var tombstoned: [UInt64] = []
        records.reserveCapacity(count)
        located.reserveCapacity(count)
        tombstoned.reserveCapacity(count)
        for _ in 0..<count {
            let record = Record(id: try r.id(), pack: try r.u32(), offset: try r.u32(), length: try r.u32(), rawLength: try r.u32())
            guard !record.hasLocation || record.packNumber < packs.count else { throw ByteReader.Truncated() }
            records.append(record)
            located.append(try r.u64())
            tombstoned.append(try r.u64())
        }
        self.init(packs: packs, records: records, located: located, tombstoned: tombstoned)
    }
}
