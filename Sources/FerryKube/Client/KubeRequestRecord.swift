/// One request a `KubeClient` sent (each attempt, watches included), as Kubernetes' audit log and
/// client-go's `rest_client_requests_total` name it: the verb, the resource, the answer's status.
public struct KubeRequestRecord: Sendable, Hashable {
    /// `get`, `list`, `watch`, `create`, `update`, `patch`, `delete`, `deletecollection`, or the
    /// HTTP method in lower case for what is not a resource (discovery, `/version`).
    public var verb: String
    /// `group/resource[/subresource]` (`persistentvolumeclaims`, `ferry.dev/volumetransfers/status`),
    /// or `discovery` for `/api`, `/apis` and their group and version documents.
    public var resource: String
    /// The HTTP status, 0 when no answer came.
    public var status: Int

    public init(verb: String, resource: String, status: Int) {
        self.verb = verb
        self.resource = resource
        self.status = status
    }

    /// Reads a request's method, path and query as the API server would classify it.
    public init(method: String, path: String, query: [(String, String)], status: Int) {
        self.status = status
        var segments = path.split(separator: "/").map(String.init)
        var group = ""
        if segments.first == "api", segments.count >= 2 {
            segments.removeFirst(2)
        } else if segments.first == "apis", segments.count >= 3 {
            group = segments[1]
            segments.removeFirst(3)
        } else {
            verb = method.lowercased()
            resource = segments.first == "api" || segments.first == "apis" ? "discovery" : "/" + segments.joined(separator: "/")
            return
        }
        if segments.isEmpty {
            verb = method.lowercased()
            resource = "discovery"
            return
        }
        // namespaces/NS/RESOURCE/... names a namespaced resource; namespaces[/NS[/SUB]] the Namespaces.
        if segments.count >= 3, segments[0] == "namespaces" { segments.removeFirst(2) }
        let name = segments.count >= 2 ? segments[1] : nil
        let subresource = segments.count >= 3 ? "/" + segments[2] : ""
        resource = (group.isEmpty ? "" : group + "/") + segments[0] + subresource
        let watching = query.contains { $0.0 == "watch" && ($0.1 == "true" || $0.1 == "1") }
        switch (method.uppercased(), name) {
        case ("GET", nil): verb = watching ? "watch" : "list"
        case ("GET", _): verb = watching ? "watch" : "get"
        case ("POST", _): verb = "create"
        case ("PUT", _): verb = "update"
        case ("PATCH", _): verb = "patch"
        case ("DELETE", nil): verb = "deletecollection"
        case ("DELETE", _): verb = "delete"
        default: verb = method.lowercased()
        }
    }
}

/// Told of every request a `KubeClient` sends, for metrics.
public struct KubeRequestObserver: Sendable {
    public let observe: @Sendable (KubeRequestRecord) -> Void

    public init(_ observe: @escaping @Sendable (KubeRequestRecord) -> Void) {
        self.observe = observe
    }
}
