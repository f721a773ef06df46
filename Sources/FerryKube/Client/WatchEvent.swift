/// One event of a watch stream.
public enum WatchEvent: Sendable {
    case added(KubeObject)
    case modified(KubeObject)
    case deleted(KubeObject)
    /// The server's progress marker: everything up to this resourceVersion has been sent.
    case bookmark(resourceVersion: String)

    public var object: KubeObject? {
        switch self {
        case .added(let o), .modified(let o), .deleted(let o): return o
        case .bookmark: return nil
        }
    }

    /// The resourceVersion a watch resumes from after this event.
    public var resourceVersion: String? {
        switch self {
        case .bookmark(let rv): return rv
        default: return object?.resourceVersion
        }
    }

    /// Decodes one line of a watch stream; ERROR events become thrown errors (410 → `.gone`).
    public init(json: JSONValue) throws(KubeError) {
        guard let type = json["type"]?.stringValue, let object = json["object"] else {
            throw KubeError.invalidResponse("a watch event has no type or object")
        }
        switch type {
        case "ADDED": self = .added(KubeObject(object))
        case "MODIFIED": self = .modified(KubeObject(object))
        case "DELETED": self = .deleted(KubeObject(object))
        case "BOOKMARK": self = .bookmark(resourceVersion: object["metadata"]?["resourceVersion"]?.stringValue ?? "")
        case "ERROR":
            throw KubeError(
                status: APIStatus(json: object) ?? APIStatus(code: 500, reason: "InternalError", message: "watch error: \(object)"))
        default:
            throw KubeError.invalidResponse("unknown watch event type \(type)")
        }
    }
}

/// What a list-then-watch loop reports: a full (re)list, or one change after it.
public enum ListWatchEvent: Sendable {
    /// The complete current set (first, and again after a 410 Gone forced a relist).
    case synced([KubeObject], resourceVersion: String)
    case event(WatchEvent)
}

/// Kinds of patch the API accepts.
public enum PatchType: Sendable, Hashable {
    /// RFC 7386 JSON merge patch.
    case merge
    /// RFC 6902 JSON patch.
    case json
    /// Kubernetes strategic merge patch (built-in kinds only).
    case strategicMerge
    /// Server-side apply with a field manager.
    case apply(fieldManager: String, force: Bool)

    public var contentType: String {
        switch self {
        case .merge: return "application/merge-patch+json"
        case .json: return "application/json-patch+json"
        case .strategicMerge: return "application/strategic-merge-patch+json"
        case .apply: return "application/apply-patch+yaml"
        }
    }
}

/// How deleting an object treats its dependents.
public enum PropagationPolicy: String, Sendable {
    case background = "Background"
    case foreground = "Foreground"
    case orphan = "Orphan"
}
