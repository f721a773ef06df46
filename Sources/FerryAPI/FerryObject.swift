import FerryKube

/// A Ferry custom resource read from the API server: its metadata (the object as read, so
/// labels, owners and resourceVersion travel with it) and its spec and status as typed values.
/// Status is written only through these types (`FerryClient.updateStatus`), never as loose JSON.
public protocol FerryObject: Sendable {
    associatedtype Spec: Codable & Sendable
    associatedtype Status: Codable & Sendable & Equatable

    static var kind: FerryKind { get }
    /// The object as read from the API server (metadata; spec and status as they were then).
    var object: KubeObject { get set }
    var spec: Spec { get set }
    var status: Status { get set }

    init(object: KubeObject, spec: Spec, status: Status)
    /// An empty status (no field set).
    static var emptyStatus: Status { get }
}

extension FerryObject {
    /// Reads the object's spec and status. A spec that does not fit the types is `invalidSpec`
    /// naming the field; a status that does not is treated as empty (it is ours to rewrite).
    public init(_ object: KubeObject) throws(ClusterError) {
        let spec: Spec
        do {
            spec = try (object["spec"] ?? [:]).decode(Spec.self)
        } catch let error as DecodingError {
            throw .invalidSpec(object: object.label, field: error.fieldPath(under: "spec"), message: error.reason)
        } catch {
            throw .invalidSpec(object: object.label, field: "spec", message: "\(error)")
        }
        let status = (try? (object["status"] ?? [:]).decode(Status.self)) ?? Self.emptyStatus
        self.init(object: object, spec: spec, status: status)
    }

    /// A new object of this kind to create.
    public init(namespace: String?, name: String, spec: Spec, labels: [String: String] = [:]) {
        var object = KubeObject(apiVersion: FerryKind.apiVersion, kind: Self.kind.rawValue, namespace: namespace, name: name)
        if !labels.isEmpty { object.json.setValue(JSONValue(stringMap: labels), at: ["metadata", "labels"]) }
        self.init(object: object, spec: spec, status: Self.emptyStatus)
    }

    public var name: String { object.name }
    public var namespace: String? { object.namespace }
    public var uid: String? { object.uid }
    /// `Kind namespace/name`, for messages.
    public var label: String { object.label }

    /// The object with only what names it and its version (kind, name, namespace, uid,
    /// resourceVersion, deletionTimestamp, labels), beside the typed spec and status: what
    /// following many objects needs to keep of each. A status write still works from it (the
    /// status subresource takes only the status).
    public var compacted: Self {
        var metadata: JSONValue = [:]
        for key in ["name", "namespace", "uid", "resourceVersion", "deletionTimestamp", "labels"] {
            if let value = object.metadata[key] { metadata[key] = value }
        }
        var identity = KubeObject(apiVersion: FerryKind.apiVersion, kind: Self.kind.rawValue, namespace: nil, name: name)
        identity.json["metadata"] = metadata
        return Self(object: identity, spec: spec, status: status)
    }

    /// The object with the typed spec and status written into it, to send.
    public func encoded() throws -> KubeObject {
        var result = object
        result.json["spec"] = try JSONValue(encoding: spec)
        let status = try JSONValue(encoding: self.status)
        result.json["status"] = status == [:] ? nil : status
        return result
    }
}

extension KubeObject {
    /// `Kind namespace/name`, for messages.
    public var label: String { "\(kind) \(namespace.map { "\($0)/" } ?? "")\(name)" }
}

extension DecodingError {
    /// The field the error is about, as a path under `root` (`spec.components.helmReleases[0]`).
    func fieldPath(under root: String) -> String {
        let context: Context
        switch self {
        case .typeMismatch(_, let c), .valueNotFound(_, let c), .dataCorrupted(let c): context = c
        case .keyNotFound(let key, let c):
            return Self.path(c.codingPath + [key], under: root)
        @unknown default: return root
        }
        return Self.path(context.codingPath, under: root)
    }

    /// What was wrong, for a person.
    var reason: String {
        switch self {
        case .keyNotFound: return "Required value"
        case .valueNotFound: return "Required value"
        case .typeMismatch(let type, _): return "must be \(Self.typeName(type))"
        case .dataCorrupted(let c): return c.debugDescription
        @unknown default: return "\(self)"
        }
    }

    private static func path(_ keys: [any CodingKey], under root: String) -> String {
        keys.reduce(root) { path, key in key.intValue.map { "\(path)[\($0)]" } ?? "\(path).\(key.stringValue)" }
    }

    private static func typeName(_ type: Any.Type) -> String {
        switch type {
        case is String.Type: return "a string"
        case is Bool.Type: return "true or false"
        case is Int.Type, is Int64.Type: return "an integer"
        default:
            let name = String(describing: type)
            return name.hasPrefix("Array") ? "a list" : name.hasPrefix("Dictionary") ? "an object" : "a \(name)"
        }
    }
}
