/// A Kubernetes object in unstructured form, with accessors for the metadata every object has.
public struct KubeObject: Sendable, Hashable {
    public var json: JSONValue

    public init(_ json: JSONValue) {
        self.json = json
    }

    public init(apiVersion: String, kind: String, namespace: String? = nil, name: String, body: JSONValue = .object([:])) {
        var json = body
        json["apiVersion"] = .string(apiVersion)
        json["kind"] = .string(kind)
        json.setValue(.string(name), at: ["metadata", "name"])
        if let namespace { json.setValue(.string(namespace), at: ["metadata", "namespace"]) }
        self.json = json
    }

    public subscript(key: String) -> JSONValue? {
        get { json[key] }
        set { json[key] = newValue }
    }

    public var apiVersion: String { json["apiVersion"]?.stringValue ?? "" }
    public var kind: String { json["kind"]?.stringValue ?? "" }
    public var groupVersion: GroupVersion { GroupVersion(apiVersion: apiVersion) }
    public var groupKind: GroupKind { GroupKind(group: groupVersion.group, kind: kind) }
    public var metadata: JSONValue { json["metadata"] ?? .object([:]) }

    public var name: String {
        get { metadata["name"]?.stringValue ?? "" }
        set { json.setValue(.string(newValue), at: ["metadata", "name"]) }
    }

    /// The namespace, or nil for cluster-scoped objects (and objects that omit it).
    public var namespace: String? {
        get {
            guard let ns = metadata["namespace"]?.stringValue, !ns.isEmpty else { return nil }
            return ns
        }
        set { json.setValue(newValue.map { .string($0) }, at: ["metadata", "namespace"]) }
    }

    public var uid: String? { metadata["uid"]?.stringValue }

    public var resourceVersion: String? {
        get { metadata["resourceVersion"]?.stringValue }
        set { json.setValue(newValue.map { .string($0) }, at: ["metadata", "resourceVersion"]) }
    }

    public var generation: Int64? { metadata["generation"]?.intValue }

    public var labels: [String: String] {
        get { metadata["labels"]?.stringMap ?? [:] }
        set { json.setValue(newValue.isEmpty ? nil : JSONValue(stringMap: newValue), at: ["metadata", "labels"]) }
    }

    public var annotations: [String: String] {
        get { metadata["annotations"]?.stringMap ?? [:] }
        set {
            json.setValue(newValue.isEmpty ? nil : JSONValue(stringMap: newValue), at: ["metadata", "annotations"])
        }
    }

    public var ownerReferences: [OwnerReference] {
        (metadata["ownerReferences"]?.arrayValue ?? []).compactMap(OwnerReference.init(json:))
    }

    public var deletionTimestamp: String? { metadata["deletionTimestamp"]?.stringValue }
    public var finalizers: [String] { (metadata["finalizers"]?.arrayValue ?? []).compactMap(\.stringValue) }
    public var creationTimestamp: String? { metadata["creationTimestamp"]?.stringValue }

    /// The version-independent identity of this object.
    public var reference: ObjectReference {
        ObjectReference(group: groupVersion.group, kind: kind, namespace: namespace, name: name)
    }

    /// The owner reference marked `controller: true`, if any.
    public var controllerReference: OwnerReference? { ownerReferences.first { $0.controller } }
}

/// A `metadata.ownerReferences` entry.
public struct OwnerReference: Sendable, Hashable {
    public var apiVersion: String
    public var kind: String
    public var name: String
    public var uid: String
    public var controller: Bool
    public var blockOwnerDeletion: Bool

    public init(apiVersion: String, kind: String, name: String, uid: String, controller: Bool = false, blockOwnerDeletion: Bool = false) {
        self.apiVersion = apiVersion
        self.kind = kind
        self.name = name
        self.uid = uid
        self.controller = controller
        self.blockOwnerDeletion = blockOwnerDeletion
    }

    public init?(json: JSONValue) {
        guard let apiVersion = json["apiVersion"]?.stringValue, let kind = json["kind"]?.stringValue,
            let name = json["name"]?.stringValue, let uid = json["uid"]?.stringValue
        else { return nil }
        self.init(
            apiVersion: apiVersion, kind: kind, name: name, uid: uid,
            controller: json["controller"]?.boolValue ?? false,
            blockOwnerDeletion: json["blockOwnerDeletion"]?.boolValue ?? false)
    }

    public var json: JSONValue {
        var value: JSONValue = ["apiVersion": .string(apiVersion), "kind": .string(kind), "name": .string(name), "uid": .string(uid)]
        if controller { value["controller"] = true }
        if blockOwnerDeletion { value["blockOwnerDeletion"] = true }
        return value
    }

    public var groupKind: GroupKind { GroupKind(group: GroupVersion(apiVersion: apiVersion).group, kind: kind) }
}

/// The version-independent identity of an object: group, kind, namespace (nil when cluster-scoped)
/// and name. Sorts by group, kind, namespace, name.
public struct ObjectReference: Sendable, Hashable, Comparable, CustomStringConvertible {
    public var group: String
    public var kind: String
    public var namespace: String?
    public var name: String

    public init(group: String, kind: String, namespace: String?, name: String) {
        self.group = group
        self.kind = kind
        self.namespace = namespace
        self.name = name
    }

    public var groupKind: GroupKind { GroupKind(group: group, kind: kind) }

    /// `Kind.group namespace/name` (`Deployment.apps default/web`, `PersistentVolume pv-1`).
    public var description: String {
        let type = groupKind.description
        if let namespace { return "\(type) \(namespace)/\(name)" }
        return "\(type) \(name)"
    }

    public static func < (a: ObjectReference, b: ObjectReference) -> Bool {
        (a.group, a.kind, a.namespace ?? "", a.name) < (b.group, b.kind, b.namespace ?? "", b.name)
    }
}
