import FerrySystem
import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// An object store in a local directory (or any mounted filesystem: NFS, a hostPath volume).
///
/// Each object is a file at `root/name`. A write goes to a hidden temporary file beside its
/// destination, is fsynced, and is then hard-linked into place, which fails rather than
/// replaces when the name exists; the directory is fsynced after. Blocking calls run on
/// `BlockingExecutor.io`.
public struct LocalDirectoryStore: ObjectStore {
    public let root: String
    public var location: String { root }
    private let executor: BlockingExecutor

    /// Opens the directory `root`. It must exist unless `create` is set.
    public init(root: String, create: Bool = false, executor: BlockingExecutor = .io) throws {
        var trimmed = root
        while trimmed.count > 1 && trimmed.hasSuffix("/") { trimmed.removeLast() }
        self.root = trimmed
        self.executor = executor
        if create {
            do { try Self.makeDirectories(trimmed) } catch { throw Self.translate(error, store: trimmed) }
        }
        var st = stat()
        if stat(trimmed, &st) != 0 {
            throw ObjectStoreError.missingStore(store: trimmed, detail: SystemError("stat", path: trimmed).description)
        }
        if (st.st_mode & S_IFMT) != S_IFDIR {
            throw ObjectStoreError.missingStore(store: trimmed, detail: "not a directory")
        }
    }

    @discardableResult
    public func put(_ name: String, _ bytes: [UInt8], mode: PutMode) async throws -> PutOutcome {
        let path = try self.path(of: name)
        let root = self.root
        return try await executor.run {
            do {
                return try Self.write(bytes, to: path, mode: mode, name: name, store: root)
            } catch let error as SystemError {
                throw Self.translate(error, store: root)
            }
        }
    }

    public func get(_ name: String) async throws -> [UInt8] {
        try await reading(name) { file, root in
            let size = Int(try file.size())
            let (bytes, n) = try Self.read(file, at: 0, count: size)
            if n != size {
                throw ObjectStoreError.corrupt(name: name, store: root, detail: "file changed size while being read")
            }
            return bytes
        }
    }

    public func get(_ name: String, range: Range<Int64>) async throws -> [UInt8] {
        try await reading(name) { file, root in
            let (bytes, n) = try Self.read(file, at: range.lowerBound, count: range.count)
            if n != range.count {
                throw ObjectStoreError.corrupt(
                    name: name, store: root,
                    detail:
                        """
                        object ends at byte \(range.lowerBound + Int64(n)), \
                        before the requested range \(range.lowerBound)..<\(range.upperBound)
                        """
                )
            }
            return bytes
        }
    }

    /// Opens object `name` on the executor and runs `body` on it, translating errors.
    private func reading(_ name: String, _ body: @escaping @Sendable (File, String) throws -> [UInt8]) async throws -> [UInt8] {
        let path = try self.path(of: name)
        let root = self.root
        return try await executor.run {
            do {
                let file = try File.open(path, flags: O_RDONLY)
                defer { file.close() }
                return try body(file, root)
            } catch let error as SystemError {
                if error.isNotFound { throw ObjectStoreError.notFound(name: name, store: root) }
                throw Self.translate(error, store: root)
            }
        }
    }

    public func head(_ name: String) async throws -> ObjectInfo? {
        let path = try self.path(of: name)
        return try await executor.run {
            var st = stat()
            if stat(path, &st) != 0 {
                if errno == ENOENT || errno == ENOTDIR { return nil }
                throw Self.translate(SystemError("stat", path: path), store: path)
            }
            return ObjectInfo(name: name, size: Int64(st.st_size))
        }
    }

    public func list(prefix: String) async throws -> [ObjectInfo] {
        let root = self.root
        // Walk the deepest directory the prefix names, then filter by the rest of it.
        let directory = prefix.contains("/") ? String(prefix[..<prefix.lastIndex(of: "/")!]) : ""
        return try await executor.run {
            var found: [ObjectInfo] = []
            try Self.walk(root: root, relative: directory) { name, size in
                if name.hasPrefix(prefix) { found.append(ObjectInfo(name: name, size: size ?? 0)) }
            }
            return found
        }
    }

    /// Like `list`, without a `stat` per object where the directory entry tells a file from a
    /// directory: a write session lists `index/` every time it begins.
    public func listNames(prefix: String) async throws -> [String] {
        let root = self.root
        let directory = prefix.contains("/") ? String(prefix[..<prefix.lastIndex(of: "/")!]) : ""
        return try await executor.run {
            var found: [String] = []
            try Self.walk(root: root, relative: directory, sizes: false) { name, _ in
                if name.hasPrefix(prefix) { found.append(name) }
            }
            return found
        }
    }

    public func delete(_ names: [String]) async throws {
        let paths = try names.map { try path(of: $0) }
        let root = self.root
        try await executor.run {
            for path in paths where unlink(path) != 0 && errno != ENOENT {
                throw Self.translate(SystemError("unlink", path: path), store: root)
            }
        }
    }

    // MARK: - Paths

    private func path(of name: String) throws -> String {
        let parts = name.split(separator: "/", omittingEmptySubsequences: false)
        guard !name.isEmpty, !parts.contains(where: { $0.isEmpty || $0 == "." || $0 == ".." || $0.hasPrefix(".") }) else {
            throw ObjectStoreError.io(store: root, detail: "invalid object name \"\(name)\"")
        }
        return root + "/" + name
    }

    // MARK: - Blocking helpers

    /// Reads up to `count` bytes into a new array without zero-filling it first.
    private static func read(_ file: File, at offset: Int64, count: Int) throws -> ([UInt8], Int) {
        var n = 0
        let bytes = try [UInt8](unsafeUninitializedCapacity: count) { buffer, initialized in
            n = try file.read(at: offset, into: UnsafeMutableRawBufferPointer(buffer))
            initialized = n
        }
        return (bytes, n)
    }

    private static func write(_ bytes: [UInt8], to path: String, mode: PutMode, name: String, store: String) throws -> PutOutcome {
        let slash = path.lastIndex(of: "/")!
        let directory = String(path[..<slash])
        let temporary = directory + "/." + path[path.index(after: slash)...] + ".tmp." + randomSuffix()
        let file = try createTemporary(temporary, directory: directory)
        defer { unlink(temporary) }
        do {
            try bytes.withUnsafeBytes { try file.write(at: 0, from: $0) }
            try file.sync()
        } catch {
            file.close()
            throw error
        }
        file.close()
        switch mode {
        case .replace:
            if rename(temporary, path) != 0 { throw SystemError("rename", path: path) }
        case .createOnly:
            if link(temporary, path) != 0 {
                guard errno == EEXIST else { throw SystemError("link", path: path) }
                let existing = File.openIfPresent(path)
                defer { existing?.close() }
                if let existing, try existing.size() == Int64(bytes.count) {
                    var other = [UInt8](repeating: 0, count: bytes.count)
                    _ = try other.withUnsafeMutableBytes { try existing.read(at: 0, into: $0) }
                    if other == bytes { return .alreadyExists }
                }
                throw ObjectStoreError.alreadyExists(name: name, store: store)
            }
        }
        try syncDirectory(directory)
        return .created
    }

    private static func createTemporary(_ path: String, directory: String) throws -> File {
        let flags = O_WRONLY | O_CREAT | O_EXCL
        if let file = try? File.open(path, flags: flags, mode: 0o600) { return file }
        try makeDirectories(directory)
        return try File.open(path, flags: flags, mode: 0o600)
    }

    private static func syncDirectory(_ path: String) throws {
        let directory = try File.open(path, flags: O_RDONLY | O_DIRECTORY)
        defer { directory.close() }
        try directory.sync()
    }

    private static func makeDirectories(_ path: String) throws {
        var current = path.hasPrefix("/") ? "" : "."
        for component in path.split(separator: "/") {
            current += "/" + component
            if mkdir(current, 0o700) != 0 && errno != EEXIST {
                throw SystemError("mkdir", path: current)
            }
        }
    }

    public func removeAbandonedWrites(startedBefore cutoff: Date) async throws -> AbandonedWrites {
        let root = self.root
        let limit = cutoff.timeIntervalSince1970
        return try await executor.run {
            var removed = AbandonedWrites()
            var temporaries: [(String, Int64)] = []
            try Self.walk(
                root: root, relative: "", visit: { _, _ in },
                visitTemporary: { path, st in
                    if Double(st.st_mtim.tv_sec) + Double(st.st_mtim.tv_nsec) / 1e9 < limit {
                        temporaries.append((path, Int64(st.st_size)))
                    }
                })
            for (path, size) in temporaries {
                if unlink(path) == 0 {
                    removed.count += 1
                    removed.bytes += size
                } else if errno != ENOENT {
                    throw Self.translate(SystemError("unlink", path: path), store: root)
                }
            }
            return removed
        }
    }

    /// Visits every object below `relative` (with its size, unless `sizes` is false and the
    /// directory entry's type says it is a regular file), and with `visitTemporary` every
    /// temporary file a write creates (`.<name>.tmp.<random>`, see `write`) by its full path.
    /// Entries are examined relative to their directory (`fstatat`), not by their full path.
    private static func walk(
        root: String, relative: String, sizes: Bool = true, visit: (String, Int64?) -> Void,
        visitTemporary: ((String, stat) -> Void)? = nil
    ) throws {
        let path = relative.isEmpty ? root : root + "/" + relative
        guard let dir = opendir(path) else {
            if errno == ENOENT || errno == ENOTDIR { return }
            throw translate(SystemError("opendir", path: path), store: root)
        }
        defer { closedir(dir) }
        let fd = dirfd(dir)
        while let entry = readdir(dir) {
            let name = withUnsafePointer(to: entry.pointee.d_name) {
                $0.withMemoryRebound(to: CChar.self, capacity: 256) { String(cString: $0) }
            }
            if name == "." || name == ".." { continue }
            let child = relative.isEmpty ? name : relative + "/" + name
            if name.hasPrefix(".") {
                var st = stat()
                if let visitTemporary, name.contains(".tmp."), fstatat(fd, name, &st, AT_SYMLINK_NOFOLLOW) == 0,
                    (st.st_mode & S_IFMT) == S_IFREG
                {
                    visitTemporary(root + "/" + child, st)
                }
                continue
            }
            let type = Int32(entry.pointee.d_type)
            if !sizes && type == DT_REG {
                visit(child, nil)
                continue
            }
            if !sizes && type == DT_DIR {
                try walk(root: root, relative: child, sizes: sizes, visit: visit, visitTemporary: visitTemporary)
                continue
            }
            var st = stat()
            guard fstatat(fd, name, &st, 0) == 0 else { continue }
            if (st.st_mode & S_IFMT) == S_IFDIR {
                try walk(root: root, relative: child, sizes: sizes, visit: visit, visitTemporary: visitTemporary)
            } else if (st.st_mode & S_IFMT) == S_IFREG {
                visit(child, Int64(st.st_size))
            }
        }
    }

    private static func randomSuffix() -> String {
        String(UInt64.random(in: 0...UInt64.max), radix: 16)
    }

    static func translate(_ error: any Error, store: String) -> any Error {
        guard let error = error as? SystemError else { return error }
        if error.isNoSpace { return ObjectStoreError.storageFull(store: store, detail: error.description) }
        if error.isPermission { return ObjectStoreError.accessDenied(store: store, detail: error.description) }
        return ObjectStoreError.io(store: store, detail: error.description)
    }
}

extension File {
    /// Opens a file for reading, or nil if it does not exist.
    static func openIfPresent(_ path: String) -> File? {
        try? File.open(path, flags: O_RDONLY)
    }
}
