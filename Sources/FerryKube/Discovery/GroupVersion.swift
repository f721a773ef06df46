/// An API group and version, such as `apps/v1` or the core group's `v1`.
public struct GroupVersion: Sendable, Hashable, Comparable, CustomStringConvertible {
    public var group: String
    public var version: String

    public init(group: String, version: String) {
        self.group = group
        self.version = version
    }

    /// Splits an `apiVersion` field (`apps/v1`, `v1`).
    public init(apiVersion: String) {
        if let slash = apiVersion.firstIndex(of: "/") {
            group = String(apiVersion[..<slash])
            version = String(apiVersion[apiVersion.index(after: slash)...])
        } else {
            group = ""
            version = apiVersion
        }
    }

    /// The `apiVersion` text: `group/version`, or just `version` for the core group.
    public var apiVersion: String { group.isEmpty ? version : "\(group)/\(version)" }

    /// The URL path prefix: `/api/v1` for the core group, `/apis/<group>/<version>` otherwise.
    public var pathPrefix: String { group.isEmpty ? "/api/\(version)" : "/apis/\(group)/\(version)" }

    public var description: String { apiVersion }

    public static func < (a: GroupVersion, b: GroupVersion) -> Bool {
        (a.group, a.version) < (b.group, b.version)
    }
}

/// A kind within an API group, independent of version: the identity Ferry uses for objects.
public struct GroupKind: Sendable, Hashable, Comparable, CustomStringConvertible {
    public var group: String
    public var kind: String

    public init(group: String, kind: String) {
        self.group = group
        self.kind = kind
    }

    /// Parses `Kind.group` (`Memcached.cache.example.com`; a bare `Kind` is in the core group),
    /// the form `description` prints.
    public init(dotted text: String) {
        guard let dot = text.firstIndex(of: ".") else {
            self.init(group: "", kind: text)
            return
        }
        self.init(group: String(text[text.index(after: dot)...]), kind: String(text[..<dot]))
    }

    public var description: String { group.isEmpty ? kind : "\(kind).\(group)" }

    public static func < (a: GroupKind, b: GroupKind) -> Bool { (a.group, a.kind) < (b.group, b.kind) }
}

/// Kubernetes' rule for ordering versions: GA before beta before alpha, higher numbers first,
/// non-Kubernetes-looking versions last in lexical order.
public enum KubeVersionPriority {
    /// Whether `a` should be preferred over `b`.
    public static func prefers(_ a: String, over b: String) -> Bool {
        rank(a) < rank(b)
    }

    private static func rank(_ v: String) -> (Int, Int, Int, String) {
        // v<major>[(alpha|beta)<minor>]
        guard v.hasPrefix("v"), let firstDigit = v.dropFirst().first, firstDigit.isNumber else {
            return (3, 0, 0, v)
        }
        let body = v.dropFirst()
        let majorDigits = body.prefix { $0.isNumber }
        guard let major = Int(majorDigits) else { return (3, 0, 0, v) }
        let rest = body.dropFirst(majorDigits.count)
        if rest.isEmpty { return (0, -major, 0, v) }
        for (tier, word) in [(1, "beta"), (2, "alpha")] where rest.hasPrefix(word) {
            if let minor = Int(rest.dropFirst(word.count)) { return (tier, -major, -minor, v) }
        }
        return (3, 0, 0, v)
    }
}
