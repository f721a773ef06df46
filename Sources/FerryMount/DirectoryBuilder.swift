import Foundation

/// Collects items by path ("shop/data.raw") into nested directories, with names made safe for a
/// file system: empty, `.` and `..` components become `_`; a name used twice gets `-2`, `-3`...
struct DirectoryBuilder {
    private final class Directory {
        var order: [String] = []
        var files: [String: MountEntry] = [:]
        var directories: [String: Directory] = [:]

        func entries() -> [MountEntry] {
            order.map { name in
                if let directory = directories[name] { return MountEntry(name, .directory(directory.entries())) }
                return files[name]!
            }
        }

        func unique(_ name: String) -> String {
            guard files[name] != nil || directories[name] != nil else { return name }
            var n = 2
            while files["\(name)-\(n)"] != nil || directories["\(name)-\(n)"] != nil { n += 1 }
            return "\(name)-\(n)"
        }
    }

    private let root = Directory()

    static func safe(_ component: some StringProtocol) -> String {
        let text = component.replacingOccurrences(of: "\0", with: "_")
        return text.isEmpty || text == "." || text == ".." ? "_" : String(text)
    }

    /// Adds `item` at `path` (its last component is the entry's name); returns the name used.
    @discardableResult
    mutating func add(_ path: [String], time: Date? = nil, _ item: MountItem) -> String {
        var directory = root
        for component in path.dropLast().map(Self.safe) {
            if let existing = directory.directories[component] {
                directory = existing
            } else {
                let name = directory.unique(component)
                let child = Directory()
                directory.directories[name] = child
                directory.order.append(name)
                directory = child
            }
        }
        let name = directory.unique(Self.safe(path.last ?? "_"))
        directory.files[name] = MountEntry(name, time: time, item)
        directory.order.append(name)
        return name
    }

    var entries: [MountEntry] { root.entries() }
}
