import FerryKube
import Foundation

/// What the test server serves: the built-in resources of a recorded kube-apiserver discovery
/// document, plus resources that CustomResourceDefinitions register while it runs.
struct ResourceRegistry: Sendable {
    /// Storage identity of a resource across its versions.
    struct StorageKey: Hashable, Sendable {
        var group: String
        var resource: String
    }

    /// A served resource and what the server must know to handle it.
    struct Entry: Sendable {
        var resource: APIResource
        var isCustom: Bool
        /// Field selector paths accepted besides metadata.name/namespace.
        var selectableFields: Set<String>
        /// A CRD version's openAPIV3Schema: stored objects are pruned to it.
        var schema: JSONValue? = nil
        /// A CRD version's additionalPrinterColumns (nil: the default Age column).
        var printerColumns: [JSONValue]? = nil
        var storageKey: StorageKey { StorageKey(group: resource.group, resource: resource.name) }
    }

    private(set) var builtin: [Entry]
    private(set) var custom: [String: [Entry]] = [:] // CRD name -> entries
    /// Version order of each built-in group as recorded (first preferred).
    private(set) var builtinGroupVersions: [String: [String]]

    init(builtin: [Entry], groupVersions: [String: [String]]) {
        self.builtin = builtin
        self.builtinGroupVersions = groupVersions
    }

    var entries: [Entry] { builtin + custom.keys.sorted().flatMap { custom[$0]! } }

    /// Groups in serving order: core, then recorded groups, then custom groups by name.
    var groupOrder: [String] {
        var order: [String] = [""]
        for entry in builtin where !order.contains(entry.resource.group) { order.append(entry.resource.group) }
        for group in Set(custom.values.flatMap { $0.map(\.resource.group) }).sorted() where !order.contains(group) {
            order.append(group)
        }
        return order
    }

    /// Versions of a group, preferred first.
    func versions(of group: String) -> [String] {
        if let recorded = builtinGroupVersions[group] { return recorded }
        let versions = Set(entries.filter { $0.resource.group == group }.map(\.resource.version))
        return versions.sorted { KubeVersionPriority.prefers($0, over: $1) }
    }

    func entry(group: String, version: String, resource: String) -> Entry? {
        entries.first { $0.resource.group == group && $0.resource.version == version && $0.resource.name == resource }
    }

    func entry(group: String, kind: String) -> Entry? {
        let versions = versions(of: group)
        let matches = entries.filter { $0.resource.group == group && $0.resource.kind == kind }
        return versions.lazy.compactMap { v in matches.first { $0.resource.version == v } }.first ?? matches.first
    }

    func entries(storageKey: StorageKey) -> [Entry] {
        entries.filter { $0.storageKey == storageKey }
    }

    func isServed(group: String, version: String) -> Bool {
        entries.contains { $0.resource.group == group && $0.resource.version == version }
    }

    mutating func register(crdName: String, entries: [Entry]) {
        custom[crdName] = entries
    }

    mutating func unregister(crdName: String) -> [Entry] {
        custom.removeValue(forKey: crdName) ?? []
    }

    /// Field selectors kube-apiserver accepts for built-in kinds, beyond metadata.name/namespace.
    static let builtinSelectableFields: [String: Set<String>] = [
        "/pods": [
            "spec.nodeName", "spec.restartPolicy", "spec.schedulerName", "spec.serviceAccountName",
            "spec.hostNetwork", "status.phase", "status.podIP", "status.nominatedNodeName",
        ],
        "/secrets": ["type"],
        "/namespaces": ["status.phase"],
        "/nodes": ["spec.unschedulable"],
        "/events": [
            "involvedObject.kind", "involvedObject.namespace", "involvedObject.name", "involvedObject.uid",
            "involvedObject.apiVersion", "involvedObject.resourceVersion", "involvedObject.fieldPath", "reason",
            "reportingComponent", "source", "type",
        ],
        "/replicationcontrollers": ["status.replicas"],
        "apps/replicasets": ["status.replicas"],
        "batch/jobs": ["status.successful"],
        "certificates.k8s.io/certificatesigningrequests": ["spec.signerName"],
    ]

    /// Built from the recorded discovery documents in `Tests/Fixtures/kube/discovery` (see its
    /// SOURCES.md).
    static func recorded() throws -> ResourceRegistry {
        func load(_ name: String) throws -> JSONValue {
            do {
                return try KubeFixtures.json("discovery/\(name).json")
            } catch {
                throw KubeTestServerError.setup("recorded discovery document \(name).json: \(error)")
            }
        }
        let core = try APIResourceCatalog.resources(fromResourceList: try load("api__v1"))
        let aggregated = try load("aggregated_v2")
        let groups = try APIResourceCatalog(aggregated: aggregated)
        var groupVersions: [String: [String]] = ["": ["v1"]]
        for item in aggregated["items"]?.arrayValue ?? [] {
            let name = item["metadata"]?["name"]?.stringValue ?? ""
            groupVersions[name] = (item["versions"]?.arrayValue ?? []).compactMap { $0["version"]?.stringValue }
        }
        let entries = (core + groups.resources).map { resource in
            Entry(
                resource: resource, isCustom: false,
                selectableFields: builtinSelectableFields["\(resource.group)/\(resource.name)"] ?? [])
        }
        return ResourceRegistry(builtin: entries, groupVersions: groupVersions)
    }

    /// The entries a CustomResourceDefinition registers, or the reason it is invalid.
    static func crdEntries(_ crd: JSONValue) -> Result<[Entry], APIError> {
        let name = crd["metadata"]?["name"]?.stringValue ?? ""
        let spec = crd["spec"] ?? [:]
        func invalid(_ field: String, _ message: String) -> Result<[Entry], APIError> {
            .failure(
                APIError(
                    APIStatus(
                        code: 422, reason: "Invalid",
                        message: "CustomResourceDefinition.apiextensions.k8s.io \"\(name)\" is invalid: \(field): \(message)",
                        detailsName: name, detailsGroup: "apiextensions.k8s.io", detailsKind: "CustomResourceDefinition",
                        causes: [.init(reason: "FieldValueInvalid", message: message, field: field)])))
        }
        guard let group = spec["group"]?.stringValue, !group.isEmpty else {
            return invalid("spec.group", "Required value")
        }
        guard let plural = spec["names"]?["plural"]?.stringValue, !plural.isEmpty else {
            return invalid("spec.names.plural", "Required value")
        }
        guard let kind = spec["names"]?["kind"]?.stringValue, !kind.isEmpty else {
            return invalid("spec.names.kind", "Required value")
        }
        guard name == "\(plural).\(group)" else {
            return invalid("metadata.name", "Invalid value: \"\(name)\": must be spec.names.plural+\".\"+spec.group")
        }
        let scope = spec["scope"]?.stringValue ?? ""
        guard scope == "Namespaced" || scope == "Cluster" else {
            return invalid("spec.scope", "Unsupported value: \"\(scope)\": supported values: \"Cluster\", \"Namespaced\"")
        }
        let versions = spec["versions"]?.arrayValue ?? []
        guard !versions.isEmpty else { return invalid("spec.versions", "Required value") }
        guard versions.filter({ $0["storage"]?.boolValue == true }).count == 1 else {
            return invalid("spec.versions", "Invalid value: must have exactly one version marked as storage version")
        }
        var entries: [Entry] = []
        for version in versions where version["served"]?.boolValue ?? true {
            guard let versionName = version["name"]?.stringValue else { continue }
            let subresources = version["subresources"]?.objectValue.map { Array($0.keys).sorted() } ?? []
            let selectable = (version["selectableFields"]?.arrayValue ?? []).compactMap { field -> String? in
                guard let path = field["jsonPath"]?.stringValue else { return nil }
                return path.hasPrefix(".") ? String(path.dropFirst()) : path
            }
            let resource = APIResource(
                group: group, version: versionName, name: plural,
                singularName: spec["names"]?["singular"]?.stringValue ?? kind.lowercased(), kind: kind,
                namespaced: scope == "Namespaced",
                verbs: ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"],
                shortNames: (spec["names"]?["shortNames"]?.arrayValue ?? []).compactMap(\.stringValue),
                categories: (spec["names"]?["categories"]?.arrayValue ?? []).compactMap(\.stringValue),
                subresources: subresources)
            let columns = version["additionalPrinterColumns"]?.arrayValue ?? spec["additionalPrinterColumns"]?.arrayValue
            entries.append(
                Entry(
                    resource: resource, isCustom: true, selectableFields: Set(selectable),
                    schema: version["schema"]?["openAPIV3Schema"] ?? spec["validation"]?["openAPIV3Schema"],
                    printerColumns: columns.flatMap { $0.isEmpty ? nil : $0 }))
        }
        return .success(entries)
    }
}

/// Errors setting up or driving the test server (not API errors, which are Status responses).
public enum KubeTestServerError: Error, CustomStringConvertible {
    case setup(String)
    case load(String)

    public var description: String {
        switch self {
        case .setup(let message): return "test API server: \(message)"
        case .load(let message): return "test API server could not load objects: \(message)"
        }
    }
}
