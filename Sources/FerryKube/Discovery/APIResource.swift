/// One resource the API server serves, as discovery describes it: where it lives (group, version,
/// plural name, scope), what it is (kind), and what may be done to it (verbs, subresources).
public struct APIResource: Sendable, Hashable {
    public var group: String
    public var version: String
    /// The plural resource name used in URLs (`deployments`).
    public var name: String
    public var singularName: String
    public var kind: String
    public var namespaced: Bool
    public var verbs: Set<String>
    public var shortNames: [String]
    public var categories: [String]
    /// Subresource names (`status`, `scale`, ...).
    public var subresources: [String]

    public init(
        group: String, version: String, name: String, singularName: String = "", kind: String,
        namespaced: Bool, verbs: Set<String>, shortNames: [String] = [], categories: [String] = [],
        subresources: [String] = []
    ) {
        self.group = group
        self.version = version
        self.name = name
        self.singularName = singularName.isEmpty ? kind.lowercased() : singularName
        self.kind = kind
        self.namespaced = namespaced
        self.verbs = verbs
        self.shortNames = shortNames
        self.categories = categories
        self.subresources = subresources
    }

    public var groupVersion: GroupVersion { GroupVersion(group: group, version: version) }
    public var groupKind: GroupKind { GroupKind(group: group, kind: kind) }
    public var apiVersion: String { groupVersion.apiVersion }

    public var isListable: Bool { verbs.contains("list") }
    public var isWatchable: Bool { verbs.contains("watch") }
    public var hasStatus: Bool { subresources.contains("status") }

    /// The URL path of the collection (`namespace` nil: across all namespaces, or cluster-scoped),
    /// of one object (`name`), or of its subresource.
    public func path(namespace: String? = nil, name objectName: String? = nil, subresource: String? = nil) -> String {
        var path = groupVersion.pathPrefix
        if namespaced, let namespace {
            path += "/namespaces/\(Self.escape(namespace))"
        }
        path += "/\(name)"
        if let objectName {
            path += "/\(Self.escape(objectName))"
            if let subresource { path += "/\(subresource)" }
        }
        return path
    }

    /// Percent-escapes a path segment (object names are DNS-like, but be safe).
    static func escape(_ segment: String) -> String {
        var out = ""
        for byte in segment.utf8 {
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
                UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"),
                UInt8(ascii: "~"), UInt8(ascii: ":"), UInt8(ascii: "@"):
                out.unicodeScalars.append(Unicode.Scalar(byte))
            default:
                out += "%" + String(byte, radix: 16, uppercase: true).leftPadded(to: 2)
            }
        }
        return out
    }
}

extension String {
    func leftPadded(to width: Int) -> String {
        count >= width ? self : String(repeating: "0", count: width - count) + self
    }
}
