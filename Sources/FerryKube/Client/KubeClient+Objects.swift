extension KubeClient {
    func namespaceFor(_ resource: APIResource, _ namespace: String?) -> String? {
        resource.namespaced ? (namespace ?? configuration.namespace) : nil
    }

    static func listQuery(_ options: ListOptions) -> [(String, String)] {
        var query: [(String, String)] = []
        if let s = options.labelSelector, !s.isEmpty { query.append(("labelSelector", s)) }
        if let s = options.fieldSelector, !s.isEmpty { query.append(("fieldSelector", s)) }
        if let limit = options.limit, limit > 0 { query.append(("limit", String(limit))) }
        if let token = options.continueToken { query.append(("continue", token)) }
        if let rv = options.resourceVersion { query.append(("resourceVersion", rv)) }
        if let match = options.resourceVersionMatch { query.append(("resourceVersionMatch", match)) }
        return query
    }

    func object(_ json: JSONValue, _ what: String) throws(KubeError) -> KubeObject {
        guard case .object = json else { throw KubeError.invalidResponse("\(what): the answer is not an object") }
        return KubeObject(json)
    }

    // MARK: Read

    public func get(_ resource: APIResource, namespace: String?, name: String) async throws(KubeError) -> KubeObject {
        let path = resource.path(namespace: namespaceFor(resource, namespace), name: name)
        return try object(try await json("GET", path), "GET \(path)")
    }

    /// One page of a collection. `namespace` nil lists across all namespaces.
    public func list(_ resource: APIResource, namespace: String?, options: ListOptions = ListOptions()) async throws(KubeError)
        -> ObjectList
    {
        let path = resource.path(namespace: resource.namespaced ? namespace : nil)
        return try ObjectList(json: try await json("GET", path, query: Self.listQuery(options)))
    }

    // MARK: Write

    /// Creates an object (its metadata.namespace, else `namespace`, else the client's namespace).
    public func create(_ resource: APIResource, _ object: KubeObject, namespace: String? = nil, fieldManager: String = "ferry")
        async throws(KubeError) -> KubeObject
    {
        let ns = namespaceFor(resource, object.namespace ?? namespace)
        let path = resource.path(namespace: ns)
        return try self.object(
            try await json("POST", path, query: [("fieldManager", fieldManager)], body: object.json, idempotent: false), "POST \(path)")
    }

    /// Replaces an object. With a resourceVersion the update is conditional (409 Conflict if the
    /// object changed since).
    public func update(_ resource: APIResource, _ object: KubeObject, fieldManager: String = "ferry") async throws(KubeError) -> KubeObject
    {
        let path = resource.path(namespace: namespaceFor(resource, object.namespace), name: object.name)
        return try self.object(try await json("PUT", path, query: [("fieldManager", fieldManager)], body: object.json), "PUT \(path)")
    }

    /// Replaces the status subresource.
    public func updateStatus(_ resource: APIResource, _ object: KubeObject, fieldManager: String = "ferry") async throws(KubeError)
        -> KubeObject
    {
        guard resource.hasStatus else {
            throw KubeError.unknownResource("\(resource.kind) has no status subresource")
        }
        let path = resource.path(namespace: namespaceFor(resource, object.namespace), name: object.name, subresource: "status")
        return try self.object(try await json("PUT", path, query: [("fieldManager", fieldManager)], body: object.json), "PUT \(path)")
    }

    /// Patches an object (or its status with `subresource: "status"`).
    public func patch(
        _ resource: APIResource, namespace: String?, name: String, type: PatchType, patch: JSONValue, subresource: String? = nil,
        fieldManager: String = "ferry"
    ) async throws(KubeError) -> KubeObject {
        let path = resource.path(namespace: namespaceFor(resource, namespace), name: name, subresource: subresource)
        var query: [(String, String)] = [("fieldManager", fieldManager)]
        if case .apply(let manager, let force) = type {
            query = [("fieldManager", manager), ("force", force ? "true" : "false")]
        }
        let idempotent: Bool
        switch type {
        case .json: idempotent = false
        default: idempotent = true
        }
        return try object(
            try await json("PATCH", path, query: query, body: patch, contentType: type.contentType, idempotent: idempotent), "PATCH \(path)"
        )
    }

    /// Deletes an object; returns what the server answered (the object, possibly marked for
    /// deletion while finalizers run).
    @discardableResult
    public func delete(
        _ resource: APIResource, namespace: String?, name: String, propagation: PropagationPolicy? = .background,
        preconditionUID: String? = nil, preconditionResourceVersion: String? = nil
    ) async throws(KubeError) -> JSONValue {
        let path = resource.path(namespace: namespaceFor(resource, namespace), name: name)
        var options: JSONValue = ["kind": "DeleteOptions", "apiVersion": "v1"]
        if let propagation { options["propagationPolicy"] = .string(propagation.rawValue) }
        if let preconditionUID { options.setValue(.string(preconditionUID), at: ["preconditions", "uid"]) }
        if let preconditionResourceVersion {
            options.setValue(.string(preconditionResourceVersion), at: ["preconditions", "resourceVersion"])
        }
        return try await json("DELETE", path, body: options)
    }
}
