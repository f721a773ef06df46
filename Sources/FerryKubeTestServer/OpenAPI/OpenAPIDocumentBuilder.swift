import FerryKube

/// Builds one `/openapi/v3/<group-version>` document as kube-apiserver publishes it: a path for
/// each resource's collection, object, all-namespaces list and status/scale subresources, with
/// the operations its verbs allow (each PATCH names its `fieldValidation` parameter and accepted
/// patch types, which is how kubectl and helm learn that the server validates fields), and under
/// `components.schemas` the kinds' schemas with every definition they refer to.
///
/// Operations carry no parameter descriptions and no watch paths (`/watch/...`), which the real
/// documents have; clients read neither.
struct OpenAPIDocumentBuilder {
    let definitions: OpenAPIDefinitions

    static let patchTypes = ["application/apply-patch+yaml", "application/json-patch+json", "application/merge-patch+json"]
    static let strategicMergePatch = "application/strategic-merge-patch+json"
    static let metaTypes = ["Patch", "DeleteOptions", "Status"].map { "io.k8s.apimachinery.pkg.apis.meta.v1.\($0)" }

    func document(_ groupVersion: GroupVersion, entries: [ResourceRegistry.Entry]) -> JSONValue {
        var schemas: [String: JSONValue] = [:]
        var roots = Self.metaTypes
        var paths: [String: JSONValue] = [:]
        for entry in entries {
            let (kindName, listName) = schemaNames(entry, into: &schemas)
            roots += [kindName, listName]
            for (path, item) in self.paths(entry, kind: kindName, list: listName) { paths[path] = item }
            if entry.resource.subresources.contains("scale") { roots.append("io.k8s.api.autoscaling.v1.Scale") }
        }
        var referenced: [String] = []
        for schema in schemas.values { OpenAPIDefinitions.references(in: schema, into: &referenced) }
        for name in definitions.closure(roots + referenced) where schemas[name] == nil {
            schemas[name] = definitions.schemas[name]
        }
        let custom = !entries.isEmpty && entries.allSatisfy(\.isCustom)
        return [
            "openapi": "3.0.0",
            "info": custom ? ["title": "Kubernetes CRD Swagger", "version": "v0.1.0"] : ["title": "Kubernetes", "version": "v1.33.0"],
            "paths": .object(paths),
            "components": [
                "schemas": .object(schemas),
                "securitySchemes": [
                    "BearerToken": [
                        "description": "Bearer Token authentication", "in": "header", "name": "authorization", "type": "apiKey",
                    ]
                ],
            ],
            "security": [["BearerToken": []]],
        ]
    }

    /// The definition names of the entry's kind and list, adding custom resources' schemas (and a
    /// permissive schema for a recorded built-in kind the v1.33 definitions no longer have).
    func schemaNames(_ entry: ResourceRegistry.Entry, into schemas: inout [String: JSONValue]) -> (String, String) {
        let r = entry.resource
        if !entry.isCustom,
            let kind = definitions.name(of: .init(group: r.group, version: r.version, kind: r.kind)),
            let list = definitions.name(of: .init(group: r.group, version: r.version, kind: "\(r.kind)List"))
        {
            return (kind, list)
        }
        let made = CustomResourceOpenAPI.schemas(for: r, schema: entry.isCustom ? entry.schema : nil, definitions: definitions)
        for (name, schema) in made { schemas[name] = schema }
        return (
            CustomResourceOpenAPI.definitionName(group: r.group, version: r.version, kind: r.kind),
            CustomResourceOpenAPI.definitionName(group: r.group, version: r.version, kind: "\(r.kind)List")
        )
    }

    // MARK: - Paths

    func paths(_ entry: ResourceRegistry.Entry, kind: String, list: String) -> [String: JSONValue] {
        let r = entry.resource
        let prefix = r.groupVersion.pathPrefix
        let scope = r.namespaced ? "\(prefix)/namespaces/{namespace}/\(r.name)" : "\(prefix)/\(r.name)"
        let id = OperationID(resource: r)
        let gvk = CustomResourceOpenAPI.gvk(r.group, r.version, r.kind)
        let namespaceParameter: [JSONValue] = r.namespaced ? [Self.pathParameter("namespace")] : []
        let protobuf = !entry.isCustom
        var paths: [String: JSONValue] = [:]

        var collection: [String: JSONValue] = ["parameters": .array(namespaceParameter + [Self.query("pretty", "string")])]
        if r.verbs.contains("list") {
            collection["get"] = operation(
                "list or watch objects of kind \(r.kind)", id.name("list", namespaced: true), action: "list", gvk: gvk,
                parameters: Self.listParameters, responses: ["200": response("OK", list, protobuf: protobuf)])
        }
        if r.verbs.contains("create") {
            collection["post"] = operation(
                "create \(article(r.kind)) \(r.kind)", id.name("create", namespaced: true), action: "post", gvk: gvk,
                parameters: Self.writeParameters, body: body(["*/*"], kind),
                responses: [
                    "200": response("OK", kind, protobuf: protobuf), "201": response("Created", kind, protobuf: protobuf),
                    "202": response("Accepted", kind, protobuf: protobuf),
                ])
        }
        if r.verbs.contains("deletecollection") {
            collection["delete"] = operation(
                "delete collection of \(r.kind)", id.name("delete", collection: true, namespaced: true), action: "deletecollection",
                gvk: gvk, parameters: Self.deleteCollectionParameters, body: body(["*/*"], Self.metaTypes[1], required: false),
                responses: ["200": response("OK", Self.metaTypes[2], protobuf: protobuf)])
        }
        paths[scope] = .object(collection)

        let objectParameters: JSONValue = .array([Self.pathParameter("name")] + namespaceParameter + [Self.query("pretty", "string")])
        var object: [String: JSONValue] = ["parameters": objectParameters]
        if r.verbs.contains("get") {
            object["get"] = operation(
                "read the specified \(r.kind)", id.name("read", namespaced: true), action: "get", gvk: gvk,
                parameters: [], responses: ["200": response("OK", kind, protobuf: protobuf)])
        }
        if r.verbs.contains("update") {
            object["put"] = operation(
                "replace the specified \(r.kind)", id.name("replace", namespaced: true), action: "put", gvk: gvk,
                parameters: Self.writeParameters, body: body(["*/*"], kind),
                responses: ["200": response("OK", kind, protobuf: protobuf), "201": response("Created", kind, protobuf: protobuf)])
        }
        if r.verbs.contains("patch") {
            object["patch"] = patchOperation(
                "partially update the specified \(r.kind)", id.name("patch", namespaced: true), gvk: gvk, kind: kind,
                strategic: !entry.isCustom, protobuf: protobuf)
        }
        if r.verbs.contains("delete") {
            object["delete"] = operation(
                "delete \(article(r.kind)) \(r.kind)", id.name("delete", namespaced: true), action: "delete", gvk: gvk,
                parameters: Self.deleteParameters, body: body(["*/*"], Self.metaTypes[1], required: false),
                responses: [
                    "200": response("OK", Self.metaTypes[2], protobuf: protobuf),
                    "202": response("Accepted", Self.metaTypes[2], protobuf: protobuf),
                ])
        }
        paths["\(scope)/{name}"] = .object(object)

        if r.namespaced && r.verbs.contains("list") {
            paths["\(prefix)/\(r.name)"] = [
                "get": operation(
                    "list or watch objects of kind \(r.kind)", id.name("list", suffix: "ForAllNamespaces", namespaced: false),
                    action: "list", gvk: gvk, parameters: [], responses: ["200": response("OK", list, protobuf: protobuf)]),
                "parameters": .array(Self.listParameters + [Self.query("pretty", "string")]),
            ]
        }
        for sub in r.subresources where sub == "status" || sub == "scale" {
            let target = sub == "scale" ? "io.k8s.api.autoscaling.v1.Scale" : kind
            let subGVK = sub == "scale" ? CustomResourceOpenAPI.gvk("autoscaling", "v1", "Scale") : gvk
            let what = sub == "scale" ? "scale of" : "status of"
            let suffix = sub == "scale" ? "Scale" : "Status"
            paths["\(scope)/{name}/\(sub)"] = [
                "parameters": objectParameters,
                "get": operation(
                    "read \(what) the specified \(r.kind)", id.name("read", suffix: suffix, namespaced: true), action: "get",
                    gvk: subGVK, parameters: [], responses: ["200": response("OK", target, protobuf: protobuf)]),
                "put": operation(
                    "replace \(what) the specified \(r.kind)", id.name("replace", suffix: suffix, namespaced: true), action: "put",
                    gvk: subGVK, parameters: Self.writeParameters, body: body(["*/*"], target),
                    responses: ["200": response("OK", target, protobuf: protobuf), "201": response("Created", target, protobuf: protobuf)]),
                "patch": patchOperation(
                    "partially update \(what) the specified \(r.kind)", id.name("patch", suffix: suffix, namespaced: true),
                    gvk: subGVK, kind: target, strategic: !entry.isCustom, protobuf: protobuf),
            ]
        }
        return paths
    }

    func patchOperation(_ description: String, _ id: String, gvk: JSONValue, kind: String, strategic: Bool, protobuf: Bool) -> JSONValue {
        let types = Self.patchTypes + (strategic ? [Self.strategicMergePatch] : [])
        return operation(
            description, id, action: "patch", gvk: gvk, parameters: Self.writeParameters + [Self.query("force", "boolean")],
            body: body(types, Self.metaTypes[0]),
            responses: ["200": response("OK", kind, protobuf: protobuf), "201": response("Created", kind, protobuf: protobuf)])
    }

    func operation(
        _ description: String, _ id: String, action: String, gvk: JSONValue, parameters: [JSONValue], body: JSONValue? = nil,
        responses: [String: JSONValue]
    ) -> JSONValue {
        var operation: JSONValue = [
            "description": .string(description), "operationId": .string(id), "tags": [.string(tag(gvk))],
            "responses": .object(responses.merging(["401": ["description": "Unauthorized"]]) { a, _ in a }),
            "x-kubernetes-action": .string(action), "x-kubernetes-group-version-kind": gvk,
        ]
        if !parameters.isEmpty { operation["parameters"] = .array(parameters) }
        if let body { operation["requestBody"] = body }
        return operation
    }

    func body(_ types: [String], _ schema: String, required: Bool = true) -> JSONValue {
        var content: [String: JSONValue] = [:]
        for type in types { content[type] = ["schema": ["$ref": .string(OpenAPIDefinitions.referencePrefix + schema)]] }
        var body: JSONValue = ["content": .object(content)]
        if required { body["required"] = true }
        return body
    }

    func response(_ description: String, _ schema: String, protobuf: Bool) -> JSONValue {
        let types = ["application/json", "application/yaml"] + (protobuf ? ["application/vnd.kubernetes.protobuf"] : [])
        var content: [String: JSONValue] = [:]
        for type in types { content[type] = ["schema": ["$ref": .string(OpenAPIDefinitions.referencePrefix + schema)]] }
        return ["content": .object(content), "description": .string(description)]
    }

    func tag(_ gvk: JSONValue) -> String {
        let group = gvk["group"]?.stringValue ?? ""
        return "\(group.isEmpty ? "core" : OperationID.lowerCamel(group))_\(gvk["version"]?.stringValue ?? "")"
    }

    func article(_ kind: String) -> String {
        "aeiouAEIOU".contains(kind.first ?? "x") ? "an" : "a"
    }

    // MARK: - Parameters

    static func query(_ name: String, _ type: String) -> JSONValue {
        ["in": "query", "name": .string(name), "schema": ["type": .string(type), "uniqueItems": true]]
    }

    static func pathParameter(_ name: String) -> JSONValue {
        ["in": "path", "name": .string(name), "required": true, "schema": ["type": "string", "uniqueItems": true]]
    }

    static let writeParameters = [query("dryRun", "string"), query("fieldManager", "string"), query("fieldValidation", "string")]

    static let listParameters = [
        query("allowWatchBookmarks", "boolean"), query("continue", "string"), query("fieldSelector", "string"),
        query("labelSelector", "string"), query("limit", "integer"), query("resourceVersion", "string"),
        query("resourceVersionMatch", "string"), query("sendInitialEvents", "boolean"), query("timeoutSeconds", "integer"),
        query("watch", "boolean"),
    ]

    static let deleteParameters = [
        query("dryRun", "string"), query("gracePeriodSeconds", "integer"),
        query("ignoreStoreReadErrorWithClusterBreakingPotential", "boolean"), query("orphanDependents", "boolean"),
        query("propagationPolicy", "string"),
    ]

    static let deleteCollectionParameters = [
        query("continue", "string"), query("dryRun", "string"), query("fieldSelector", "string"),
        query("gracePeriodSeconds", "integer"), query("ignoreStoreReadErrorWithClusterBreakingPotential", "boolean"),
        query("labelSelector", "string"), query("limit", "integer"), query("orphanDependents", "boolean"),
        query("propagationPolicy", "string"), query("resourceVersion", "string"), query("resourceVersionMatch", "string"),
        query("sendInitialEvents", "boolean"), query("timeoutSeconds", "integer"),
    ]
}

extension OpenAPIDocumentBuilder {
    /// kube-apiserver's operation ids: verb, group and version, scope, kind
    /// (`patchAppsV1NamespacedDeployment`, `listCoreV1PersistentVolume`, `listAppsV1DeploymentForAllNamespaces`).
    struct OperationID {
        var resource: APIResource

        func name(_ verb: String, suffix: String = "", collection: Bool = false, namespaced: Bool) -> String {
            let group = resource.group.isEmpty ? "Core" : Self.upperCamel(resource.group)
            let version = resource.version.prefix(1).uppercased() + resource.version.dropFirst()
            let scope = namespaced && resource.namespaced ? "Namespaced" : ""
            return verb + group + version + (collection ? "Collection" : "") + scope + resource.kind + suffix
        }

        /// `rbac.authorization.k8s.io` → `RbacAuthorization`, `ferry.dev` → `FerryDev`.
        static func upperCamel(_ group: String) -> String {
            let trimmed = group.hasSuffix(".k8s.io") ? String(group.dropLast(".k8s.io".count)) : group
            return trimmed.split(whereSeparator: { $0 == "." || $0 == "-" }).map { $0.prefix(1).uppercased() + $0.dropFirst() }.joined()
        }

        static func lowerCamel(_ group: String) -> String {
            let upper = upperCamel(group)
            return upper.prefix(1).lowercased() + upper.dropFirst()
        }
    }
}
