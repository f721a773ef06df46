import FerrySystem
import Foundation

/// A path on the node, opened from inside the agent's container, where the node's root file
/// system is mounted at `root` (`/host`). Symbolic links on the node point at node paths (the
/// kubelet links `pods/<uid>/volumeDevices/kubernetes.io~csi/<pv>` to an absolute path under
/// its plugins directory), so they are followed here relative to `root`, never outside it.
/// With an empty root (the agent runs on the node itself) paths are used as they are.
struct HostPath: Sendable {
    let root: String
    /// Links followed at most, as the kernel's own limit (ELOOP).
    static let maximumLinks = 40

    /// The path in the agent's file system that `path` on the node resolves to.
    func resolve(_ path: String) throws(HostPathError) -> String {
        guard !root.isEmpty else { return path }
        guard path.hasPrefix("/") else { throw .notAbsolute(path) }
        var pending = Self.components(path)
        var resolved: [String] = []
        var links = 0
        while !pending.isEmpty {
            let component = pending.removeFirst()
            switch component {
            case "", ".":
                continue
            case "..":
                // The node's "/.." is "/": never above the host root.
                if !resolved.isEmpty { resolved.removeLast() }
                continue
            default:
                break
            }
            let candidate = root + "/" + (resolved + [component]).joined(separator: "/")
            var info = stat()
            guard lstat(candidate, &info) == 0, info.st_mode & S_IFMT == S_IFLNK else {
                resolved.append(component)
                continue
            }
            links += 1
            guard links <= Self.maximumLinks else { throw .tooManyLinks(path) }
            guard let target = try? FileManager.default.destinationOfSymbolicLink(atPath: candidate) else {
                throw .unreadableLink(candidate)
            }
            if target.hasPrefix("/") { resolved = [] }
            pending = Self.components(target) + pending
        }
        return root + "/" + resolved.joined(separator: "/")
    }

    private static func components(_ path: String) -> [String] {
        path.split(separator: "/", omittingEmptySubsequences: true).map(String.init)
    }
}

/// Why a node path cannot be opened from the agent's container.
enum HostPathError: Error, CustomStringConvertible {
    case notAbsolute(String)
    case tooManyLinks(String)
    case unreadableLink(String)

    var description: String {
        switch self {
        case .notAbsolute(let path): "\(path) is not an absolute path on the node"
        case .tooManyLinks(let path): "\(path) on the node: more than \(HostPath.maximumLinks) symbolic links (a loop?)"
        case .unreadableLink(let path): "cannot read the symbolic link \(path)"
        }
    }
}
