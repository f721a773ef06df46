import Foundation
import Synchronization

/// What a mount shows, before it becomes inodes: directories (some filled on first use), volume
/// files, small files held in memory, and symbolic links.
public indirect enum MountItem: Sendable {
    case directory([MountEntry])
    /// A directory whose entries are read from the repository the first time someone looks in it.
    case lazyDirectory(@Sendable () async throws -> [MountEntry])
    case volume(VolumeReader)
    case file([UInt8])
    case symlink(String)
}

/// A named item in a directory; `time` (else the parent's) becomes its modification time.
public struct MountEntry: Sendable {
    public var name: String
    public var time: Date?
    public var item: MountItem

    public init(_ name: String, time: Date? = nil, _ item: MountItem) {
        self.name = name
        self.time = time
        self.item = item
    }
}

/// One inode of the mounted tree.
public final class MountNode: Sendable {
    public enum Content: Sendable {
        case directory
        case volume(VolumeReader)
        case file([UInt8])
        case symlink(String)
    }

    public let ino: UInt64
    public let parent: UInt64
    public let time: Date
    public let content: Content
    /// The entries of a lazy directory's loader (nil for every other node).
    let loader: (@Sendable () async throws -> [MountEntry])?

    init(ino: UInt64, parent: UInt64, time: Date, content: Content, loader: (@Sendable () async throws -> [MountEntry])? = nil) {
        self.ino = ino
        self.parent = parent
        self.time = time
        self.content = content
        self.loader = loader
    }

    public var isDirectory: Bool {
        if case .directory = content { return true }
        return false
    }

    /// The file's size in bytes (a symbolic link's: its target's length).
    public var size: Int64 {
        switch content {
        case .directory: 0
        case .volume(let reader): reader.size
        case .file(let bytes): Int64(bytes.count)
        case .symlink(let target): Int64(target.utf8.count)
        }
    }
}

/// A directory's entries in the order `readdir` lists them, with a map for lookups.
public struct MountDirectory: Sendable {
    public var entries: [(name: String, node: MountNode)]
    var byName: [String: MountNode]

    init(_ entries: [(name: String, node: MountNode)]) {
        self.entries = entries
        byName = Dictionary(entries.map { ($0.name, $0.node) }, uniquingKeysWith: { first, _ in first })
    }

    public func node(named name: String) -> MountNode? { byName[name] }
}

/// The inode table of a read-only tree. Inodes are never removed (the tree does not change while
/// mounted), so the kernel's lookup counts need no bookkeeping. Inode 1 is the root.
public final class MountTree: Sendable {
    private let nodes = Mutex<[MountNode]>([])
    private let directories = FlightCache<UInt64, MountDirectory>(capacity: Int.max) { _ in 0 }

    public init(root: MountItem, time: Date) {
        _ = materialize(MountEntry("", time: time, root), parent: 1, inheritedTime: time)
    }

    public var root: MountNode { node(1)! }

    public func node(_ ino: UInt64) -> MountNode? {
        nodes.withLock { ino >= 1 && ino <= UInt64($0.count) ? $0[Int(ino - 1)] : nil }
    }

    /// A directory's entries if they are known without reading the repository.
    public func directoryIfLoaded(_ node: MountNode) -> MountDirectory? {
        directories.cached(node.ino)
    }

    /// A directory's entries, read from the repository the first time for a lazy directory (a
    /// failure is reported to the caller and tried again on the next call).
    public func directory(_ node: MountNode) async throws -> MountDirectory {
        if let loaded = directories.cached(node.ino) { return loaded }
        guard let loader = node.loader else { return MountDirectory([]) }
        return try await directories.value(for: node.ino) {
            let entries = try await loader()
            return MountDirectory(self.add(entries, parent: node.ino, time: node.time))
        }
    }

    @discardableResult
    private func materialize(_ entry: MountEntry, parent: UInt64, inheritedTime: Date) -> MountNode {
        let time = entry.time ?? inheritedTime
        switch entry.item {
        case .directory(let entries):
            let node = append(parent: parent, time: time, content: .directory, loader: nil)
            let children = add(entries, parent: node.ino, time: time)
            directories.complete(claimed(node.ino), with: .success(MountDirectory(children)))
            return node
        case .lazyDirectory(let loader):
            return append(parent: parent, time: time, content: .directory, loader: loader)
        case .volume(let reader):
            return append(parent: parent, time: time, content: .volume(reader), loader: nil)
        case .file(let bytes):
            return append(parent: parent, time: time, content: .file(bytes), loader: nil)
        case .symlink(let target):
            return append(parent: parent, time: time, content: .symlink(target), loader: nil)
        }
    }

    private func add(_ entries: [MountEntry], parent: UInt64, time: Date) -> [(name: String, node: MountNode)] {
        entries.map { ($0.name, materialize($0, parent: parent, inheritedTime: time)) }
    }

    private func claimed(_ ino: UInt64) -> FlightCache<UInt64, MountDirectory>.Flight {
        guard case .mine(let flight) = directories.claim(ino) else { preconditionFailure("directory \(ino) filled twice") }
        return flight
    }

    private func append(
        parent: UInt64, time: Date, content: MountNode.Content,
        loader: (@Sendable () async throws -> [MountEntry])?
    ) -> MountNode {
        nodes.withLock { nodes in
            let ino = UInt64(nodes.count + 1)
            let node = MountNode(ino: ino, parent: nodes.isEmpty ? 1 : parent, time: time, content: content, loader: loader)
            nodes.append(node)
            return node
        }
    }
}
