/// Why a discovery document could not be understood.
public struct DiscoveryDocumentError: Error, Sendable, Equatable, CustomStringConvertible {
    public var document: String
    public var reason: String
    public var description: String { "malformed discovery document \(document): \(reason)" }
}

/// Every resource an API server serves, with the server's preferred version of each group:
/// maps kinds to resources and back, and names (`deploy`, `deployments.apps`) to resources.
public struct APIResourceCatalog: Sendable {
    /// All resources of all served versions (subresources are folded into their parent).
    public private(set) var resources: [APIResource]
    /// The preferred version of each group ("" for core).
    public private(set) var preferredVersions: [String: String]

    public init(resources: [APIResource], preferredVersions: [String: String] = [:]) {
        self.resources = resources
        var preferred = preferredVersions
        for resource in resources where preferred[resource.group] == nil {
            preferred[resource.group] = resource.version
        }
        for resource in resources {
            if let current = preferred[resource.group], preferredVersions[resource.group] == nil,
                KubeVersionPriority.prefers(resource.version, over: current)
            {
                preferred[resource.group] = resource.version
            }
        }
        self.preferredVersions = preferred
    }

    /// The groups, core ("") first, then by name.
    public var groups: [String] { preferredVersions.keys.sorted() }

    /// The resource serving `kind` in `apiVersion` (exact version).
    public func resource(apiVersion: String, kind: String) -> APIResource? {
        let gv = GroupVersion(apiVersion: apiVersion)
        return resources.first { $0.group == gv.group && $0.version == gv.version && $0.kind == kind }
    }

    /// The resource for a kind in a group at the group's preferred version (or any version).
    public func resource(for groupKind: GroupKind) -> APIResource? {
        let candidates = resources.filter { $0.group == groupKind.group && $0.kind == groupKind.kind }
        if let preferred = preferredVersions[groupKind.group],
            let match = candidates.first(where: { $0.version == preferred })
        {
            return match
        }
        return candidates.first
    }

    /// The resource with this group and plural name, at the preferred version.
    public func resource(group: String, name: String) -> APIResource? {
        let candidates = resources.filter { $0.group == group && $0.name == name }
        if let preferred = preferredVersions[group], let match = candidates.first(where: { $0.version == preferred }) {
            return match
        }
        return candidates.first
    }

    /// Resolves what a user types (`deploy`, `deployment`, `Deployment`, `deployments.apps`,
    /// `deployments.v1.apps`) to resources at preferred versions, as kubectl does.
    public func resolve(_ text: String) -> [APIResource] {
        let lower = text.lowercased()
        var name = lower
        var group: String?
        var version: String?
        if let dot = lower.firstIndex(of: ".") {
            name = String(lower[..<dot])
            let rest = String(lower[lower.index(after: dot)...])
            if let versionDot = rest.firstIndex(of: "."), rest.hasPrefix("v"),
                rest[rest.index(after: rest.startIndex)].isNumber
            {
                version = String(rest[..<versionDot])
                group = String(rest[rest.index(after: versionDot)...])
            } else {
                group = rest
            }
        }
        let matches = resources.filter { resource in
            if let group, resource.group != group { return false }
            if let version, resource.version != version { return false }
            return resource.name == name || resource.singularName == name || resource.kind.lowercased() == name
                || resource.shortNames.contains(name)
        }
        var best: [GroupKind: APIResource] = [:]
        for resource in matches {
            if let current = best[resource.groupKind] {
                if preferredVersions[resource.group] == resource.version
                    && preferredVersions[current.group] != current.version
                {
                    best[resource.groupKind] = resource
                }
            } else {
                best[resource.groupKind] = resource
            }
        }
        return best.values.sorted { ($0.group.isEmpty ? 0 : 1, $0.group, $0.kind) < ($1.group.isEmpty ? 0 : 1, $1.group, $1.kind) }
    }

    /// The preferred-version resource of every group that supports `verb` (e.g. namespaced,
    /// listable resources for a namespace walk), ordered by group then name.
    public func preferredResources(namespaced: Bool? = nil, supporting verbs: Set<String> = []) -> [APIResource] {
        resources.filter { resource in
            preferredVersions[resource.group] == resource.version
                && (namespaced == nil || resource.namespaced == namespaced)
                && verbs.isSubset(of: resource.verbs)
        }.sorted { ($0.group, $0.name) < ($1.group, $1.name) }
    }

    /// Adds or replaces resources (e.g. after a CRD appears).
    public mutating func merge(_ other: APIResourceCatalog) {
        let keys = Set(other.resources.map { "\($0.group)/\($0.version)/\($0.name)" })
        resources.removeAll { keys.contains("\($0.group)/\($0.version)/\($0.name)") }
        resources.append(contentsOf: other.resources)
        for (group, version) in other.preferredVersions { preferredVersions[group] = version }
    }
}

// MARK: - Parsing discovery documents

extension APIResourceCatalog {
    /// Parses an aggregated discovery document (`APIGroupDiscoveryList`, apidiscovery.k8s.io v2 or
    /// v2beta1). Version order in each group is the server's preference, first preferred.
    public init(aggregated document: JSONValue) throws(DiscoveryDocumentError) {
        guard document["kind"]?.stringValue == "APIGroupDiscoveryList" else {
            throw DiscoveryDocumentError(
                document: "APIGroupDiscoveryList",
                reason: "kind is \(document["kind"]?.stringValue ?? "missing"), not APIGroupDiscoveryList")
        }
        var resources: [APIResource] = []
        var preferred: [String: String] = [:]
        for group in document["items"]?.arrayValue ?? [] {
            let groupName = group["metadata"]?["name"]?.stringValue ?? ""
            for versionEntry in group["versions"]?.arrayValue ?? [] {
                guard let version = versionEntry["version"]?.stringValue else {
                    throw DiscoveryDocumentError(document: "group \(groupName)", reason: "a version entry has no version")
                }
                if preferred[groupName] == nil { preferred[groupName] = version }
                for entry in versionEntry["resources"]?.arrayValue ?? [] {
                    guard let name = entry["resource"]?.stringValue,
                        let kind = entry["responseKind"]?["kind"]?.stringValue, !kind.isEmpty
                    else {
                        throw DiscoveryDocumentError(
                            document: "\(GroupVersion(group: groupName, version: version))",
                            reason: "a resource entry has no resource name or responseKind.kind")
                    }
                    resources.append(
                        APIResource(
                            group: groupName, version: version, name: name,
                            singularName: entry["singularResource"]?.stringValue ?? "", kind: kind,
                            namespaced: entry["scope"]?.stringValue == "Namespaced",
                            verbs: Set((entry["verbs"]?.arrayValue ?? []).compactMap(\.stringValue)),
                            shortNames: (entry["shortNames"]?.arrayValue ?? []).compactMap(\.stringValue),
                            categories: (entry["categories"]?.arrayValue ?? []).compactMap(\.stringValue),
                            subresources: (entry["subresources"]?.arrayValue ?? []).compactMap {
                                $0["subresource"]?.stringValue
                            }))
                }
            }
        }
        self.init(resources: resources, preferredVersions: preferred)
    }

    /// Parses one legacy `APIResourceList` (`GET /api/v1`, `GET /apis/<group>/<version>`).
    public static func resources(fromResourceList document: JSONValue) throws(DiscoveryDocumentError) -> [APIResource] {
        guard let groupVersionText = document["groupVersion"]?.stringValue else {
            throw DiscoveryDocumentError(document: "APIResourceList", reason: "no groupVersion")
        }
        let gv = GroupVersion(apiVersion: groupVersionText)
        var byName: [String: APIResource] = [:]
        var order: [String] = []
        var subresources: [(String, String)] = []
        for entry in document["resources"]?.arrayValue ?? [] {
            guard let name = entry["name"]?.stringValue else {
                throw DiscoveryDocumentError(document: "APIResourceList \(groupVersionText)", reason: "a resource has no name")
            }
            if let slash = name.firstIndex(of: "/") {
                subresources.append((String(name[..<slash]), String(name[name.index(after: slash)...])))
                continue
            }
            guard let kind = entry["kind"]?.stringValue else {
                throw DiscoveryDocumentError(document: "APIResourceList \(groupVersionText)", reason: "\(name) has no kind")
            }
            byName[name] = APIResource(
                group: gv.group, version: gv.version, name: name,
                singularName: entry["singularName"]?.stringValue ?? "", kind: kind,
                namespaced: entry["namespaced"]?.boolValue ?? false,
                verbs: Set((entry["verbs"]?.arrayValue ?? []).compactMap(\.stringValue)),
                shortNames: (entry["shortNames"]?.arrayValue ?? []).compactMap(\.stringValue),
                categories: (entry["categories"]?.arrayValue ?? []).compactMap(\.stringValue))
            order.append(name)
        }
        for (parent, sub) in subresources { byName[parent]?.subresources.append(sub) }
        return order.compactMap { byName[$0] }
    }

    /// The (group, preferred version, all versions) entries of a legacy `APIGroupList` (`GET /apis`).
    public static func groups(fromGroupList document: JSONValue) throws(DiscoveryDocumentError) -> [(
        name: String, preferred: String, versions: [String]
    )] {
        guard document["kind"]?.stringValue == "APIGroupList" || document["groups"] != nil else {
            throw DiscoveryDocumentError(document: "APIGroupList", reason: "no groups")
        }
        var result: [(String, String, [String])] = []
        for group in document["groups"]?.arrayValue ?? [] {
            guard let name = group["name"]?.stringValue else {
                throw DiscoveryDocumentError(document: "APIGroupList", reason: "a group has no name")
            }
            let versions = (group["versions"]?.arrayValue ?? []).compactMap { $0["version"]?.stringValue }
            let preferred = group["preferredVersion"]?["version"]?.stringValue ?? versions.first ?? ""
            result.append((name, preferred, versions))
        }
        return result
    }
}
