import FerryKube
import Foundation

extension APIServerState {
    struct ResourceRequest {
        var entry: ResourceRegistry.Entry
        var namespace: String?
        var name: String?
        var subresource: String?
        var watch: Bool
    }

    static let notFoundPath = APIStatus(
        code: 404, reason: "NotFound", message: "the server could not find the requested resource")

    func process(_ request: APIRequest) -> APIResponse {
        let response = route(request)
        runControllers()
        switch response {
        case .body(let status, _, _, _): record(request, status: status)
        case .watch: record(request, status: 200)
        case .upgrade: record(request, status: 101)
        }
        return response
    }

    func route(_ request: APIRequest) -> APIResponse {
        let admitted: Admitted
        switch admit(request) {
        case .success(let ok): admitted = ok
        case .failure(let refused): return refused.response
        }
        let segments = request.path.split(separator: "/").map(String.init)
        guard let first = segments.first else { return .status(Self.notFoundPath) }
        switch first {
        case "healthz", "readyz", "livez": return .text(200, "ok")
        case "version": return .json(200, versionDocument)
        case "openapi": return openAPI(request, segments: segments)
        default: break
        }
        guard first == "api" || first == "apis" else { return .status(Self.notFoundPath) }
        if let answer = kubeVirtSubresource(request, segments: segments) { return answer }
        let isCore = first == "api"
        var rest = Array(segments.dropFirst())
        if rest.isEmpty {
            guard request.method == "GET" else { return methodNotAllowed(request) }
            return discoveryRoot(core: isCore, request: request)
        }
        let group: String
        if isCore {
            group = ""
        } else {
            group = rest.removeFirst()
            if rest.isEmpty {
                guard request.method == "GET" else { return methodNotAllowed(request) }
                return groupDocument(group)
            }
        }
        let version = rest.removeFirst()
        guard registry.isServed(group: group, version: version) else { return .status(Self.notFoundPath) }
        if rest.isEmpty {
            guard request.method == "GET" else { return methodNotAllowed(request) }
            return .json(200, resourceListDocument(group: group, version: version))
        }
        var watchPrefix = false
        if rest.first == "watch" {
            watchPrefix = true
            rest.removeFirst()
        }
        var namespace: String?
        if rest.first == "namespaces", rest.count > 2, !["status", "finalize"].contains(rest[2]) {
            namespace = rest[1]
            rest.removeFirst(2)
        }
        guard let resourceName = rest.first,
            let entry = registry.entry(group: group, version: version, resource: resourceName)
        else { return .status(Self.notFoundPath) }
        rest.removeFirst()
        if namespace != nil && !entry.resource.namespaced { return .status(Self.notFoundPath) }
        let name = rest.first
        let subresource = rest.count > 1 ? rest[1] : nil
        guard rest.count <= 2 else { return .status(Self.notFoundPath) }
        if let subresource, !entry.resource.subresources.contains(subresource) {
            return .status(Self.notFoundPath)
        }
        let resourceRequest = ResourceRequest(
            entry: entry, namespace: namespace, name: name, subresource: subresource,
            watch: watchPrefix || request.query["watch"] == "true" || request.query["watch"] == "1")
        let verb = verb(for: request, resourceRequest)
        if let denial = denials.first(where: { $0.denies(verb: verb, group: group, resource: resourceName, namespace: namespace) }) {
            return .status(Self.forbidden(admitted.attributes, reason: denial.reason ?? ""))
        }
        if let review = accessReview(request, resourceRequest, user: admitted.user) { return review }
        auth.caller = admitted.attributes
        defer { auth.caller = nil }
        do {
            return try handle(request, resourceRequest)
        } catch {
            return .status(error.status)
        }
    }

    func verb(for request: APIRequest, _ r: ResourceRequest) -> String {
        switch request.method {
        case "GET": return r.watch ? "watch" : (r.name == nil ? "list" : "get")
        case "POST": return "create"
        case "PUT": return "update"
        case "PATCH": return "patch"
        case "DELETE": return r.name == nil ? "deletecollection" : "delete"
        default: return request.method.lowercased()
        }
    }

    func methodNotAllowed(_ request: APIRequest) -> APIResponse {
        .status(
            APIStatus(code: 405, reason: "MethodNotAllowed", message: "the server does not allow this method on the requested resource"))
    }

    func handle(_ request: APIRequest, _ r: ResourceRequest) throws(APIError) -> APIResponse {
        if let namespace = r.namespace, ["POST", "PUT", "PATCH"].contains(request.method), !namespaceExists(namespace) {
            if !(request.method == "PATCH" || request.method == "PUT") || existing(r.entry, namespace: namespace, name: r.name ?? "") == nil
            {
                throw APIError(
                    APIStatus(
                        code: 404, reason: "NotFound", message: "namespaces \"\(namespace)\" not found",
                        detailsName: namespace, detailsKind: "namespaces"))
            }
        }
        if let namespace = r.namespace, request.method == "POST", isTerminating(namespace: namespace) {
            throw APIError(
                APIStatus(
                    code: 403, reason: "Forbidden",
                    message:
                        "\(Self.qualified(r.entry)) is forbidden: unable to create new content in namespace \(namespace)"
                        + " because it is being terminated",
                    detailsGroup: r.entry.resource.group, detailsKind: r.entry.resource.name,
                    causes: [
                        .init(
                            reason: "NamespaceTerminating", message: "namespace \(namespace) is being terminated",
                            field: "metadata.namespace")
                    ]))
        }
        switch (request.method, r.name, r.subresource) {
        case ("GET", let name?, "exec"), ("POST", let name?, "exec"):
            guard r.entry.resource.group == "", r.entry.resource.name == "pods" else { return methodNotAllowed(request) }
            let session = try execSession(request, r, name: name)
            // kube-apiserver answers a request it cannot upgrade (to WebSocket, or SPDY, which this
            // server does not speak) with 400.
            guard request.upgrading else { throw APIError(Self.badRequest("Upgrade request required")) }
            return .upgrade(session)
        case ("GET", nil, _):
            if r.watch { return try watch(request, r) }
            let list = try list(request, r)
            if let table = try tableRenderer(request, r) {
                let items = list["items"]?.arrayValue ?? []
                return Self.table(table.table(items, metadata: list["metadata"] ?? [:]), table)
            }
            return .json(200, list)
        case ("GET", let name?, _):
            guard let object = existing(r.entry, namespace: r.namespace, name: name) else {
                throw APIError(Self.notFound(r.entry, name))
            }
            if let table = try tableRenderer(request, r) {
                let metadata: JSONValue = ["resourceVersion": object["metadata"]?["resourceVersion"] ?? ""]
                return Self.table(table.table([present(object, as: r.entry)], metadata: metadata), table)
            }
            return .json(200, present(object, as: r.entry))
        case ("POST", nil, _):
            return try create(request, r)
        case ("POST", let name?, "token") where r.entry.resource.group == "" && r.entry.resource.name == "serviceaccounts":
            return try issueToken(request, r, name: name)
        case ("PUT", let name?, let sub):
            return try update(request, r, name: name, subresource: sub)
        case ("PATCH", let name?, let sub):
            return try patch(request, r, name: name, subresource: sub)
        case ("DELETE", let name?, nil):
            return try deleteOne(request, r, name: name)
        case ("DELETE", nil, nil):
            return try deleteCollection(request, r)
        default:
            return methodNotAllowed(request)
        }
    }

    // MARK: - Reading bodies

    func decodeBody(_ request: APIRequest) throws(APIError) -> JSONValue {
        let type = request.contentType
        let value: JSONValue
        switch type {
        case "", "application/json", "application/merge-patch+json", "application/json-patch+json",
            "application/strategic-merge-patch+json":
            do {
                value = try JSONValue(parsing: request.body)
            } catch {
                throw APIError(
                    Self.badRequest(
                        "the body of the request was in an unknown format - accepted media types include: "
                            + "application/json, application/yaml, application/vnd.kubernetes.protobuf (\(error))"
                    ))
            }
        case "application/yaml", "application/apply-patch+yaml":
            let text = String(decoding: request.body, as: UTF8.self)
            if let json = try? JSONValue(parsing: request.body) {
                value = json
            } else {
                do {
                    value = try YAMLDocuments.parseSingle(text)
                } catch {
                    throw APIError(Self.badRequest("error decoding YAML: \(error)"))
                }
            }
        case "application/vnd.kubernetes.protobuf":
            do {
                value = try ProtobufEnvelope.decode(request.body)
            } catch {
                throw APIError(APIStatus(code: 415, reason: "UnsupportedMediaType", message: "\(error)"))
            }
        default:
            throw APIError(
                APIStatus(
                    code: 415, reason: "UnsupportedMediaType",
                    message:
                        "the body of the request was in an unknown format - accepted media types include: "
                        + "application/json, application/yaml, application/vnd.kubernetes.protobuf"
                ))
        }
        return value
    }

    func checkKind(_ object: JSONValue, _ entry: ResourceRegistry.Entry) throws(APIError) {
        guard case .object = object else { throw APIError(Self.badRequest("the request body must be a JSON object")) }
        if let kind = object["kind"]?.stringValue, !kind.isEmpty, kind != entry.resource.kind {
            throw APIError(
                Self.badRequest(
                    "the API version in the data (\(object["apiVersion"]?.stringValue ?? ""))"
                        + " does not match the expected API version (\(entry.resource.apiVersion))"
                        + ", or kind \(kind) is not \(entry.resource.kind)"
                ))
        }
        if let apiVersion = object["apiVersion"]?.stringValue, !apiVersion.isEmpty,
            GroupVersion(apiVersion: apiVersion).group != entry.resource.group
        {
            throw APIError(
                Self.badRequest(
                    "the API version in the data (\(apiVersion)) does not match the expected API version (\(entry.resource.apiVersion))"))
        }
    }

    func checkNamespace(_ object: inout JSONValue, _ r: ResourceRequest) throws(APIError) {
        guard r.entry.resource.namespaced else { return }
        let bodyNamespace = object["metadata"]?["namespace"]?.stringValue ?? ""
        guard let namespace = r.namespace else {
            throw APIError(Self.badRequest("the namespace of the object must be given in the request path for a namespaced resource"))
        }
        if !bodyNamespace.isEmpty && bodyNamespace != namespace {
            throw APIError(Self.badRequest("the namespace of the provided object does not match the namespace sent on the request"))
        }
        object.setValue(.string(namespace), at: ["metadata", "namespace"])
    }

    static func isDNSSubdomain(_ name: String) -> Bool {
        guard !name.isEmpty, name.count <= 253 else { return false }
        let allowed = name.utf8.allSatisfy { ($0 >= 0x61 && $0 <= 0x7A) || ($0 >= 0x30 && $0 <= 0x39) || $0 == 0x2D || $0 == 0x2E }
        let edges = [name.utf8.first!, name.utf8.last!].allSatisfy { ($0 >= 0x61 && $0 <= 0x7A) || ($0 >= 0x30 && $0 <= 0x39) }
        return allowed && edges
    }

    func validateName(_ name: String, _ entry: ResourceRegistry.Entry) throws(APIError) {
        guard Self.isDNSSubdomain(name) else {
            throw APIError(
                Self.invalid(
                    entry, name, field: "metadata.name",
                    "Invalid value: \"\(name)\": a lowercase RFC 1123 subdomain "
                        + "must consist of lower case alphanumeric characters, '-' or '.', "
                        + "and must start and end with an alphanumeric character"
                ))
        }
    }

    // MARK: - Verbs

    func create(_ request: APIRequest, _ r: ResourceRequest) throws(APIError) -> APIResponse {
        var object = try decodeBody(request)
        try checkKind(object, r.entry)
        try checkNamespace(&object, r)
        var name = object["metadata"]?["name"]?.stringValue ?? ""
        if name.isEmpty {
            guard let prefix = object["metadata"]?["generateName"]?.stringValue, !prefix.isEmpty else {
                throw APIError(
                    Self.invalid(
                        r.entry, "", field: "metadata.name", reason: "FieldValueRequired",
                        "Required value: name or generateName is required"))
            }
            let alphabet = Array("bcdfghjklmnpqrstvwxz2456789")
            repeat {
                name = prefix + String((0..<5).map { _ in alphabet.randomElement()! })
            } while existing(r.entry, namespace: r.namespace, name: name) != nil
            object.setValue(.string(name), at: ["metadata", "name"])
        }
        try validateName(name, r.entry)
        let warnings = try checkFields(request, r, object) + admitPodSecurity(r, name: name, object: object, old: nil)
        if request.query["dryRun"] == "All" {
            if existing(r.entry, namespace: r.namespace, name: name) != nil {
                throw APIError(Self.alreadyExists(r.entry, name))
            }
            return .json(201, present(object, as: r.entry), headers: warnings)
        }
        let stored = try storeNew(entry: r.entry, object: object, namespace: r.namespace, fromAPI: true)
        return .json(201, present(stored, as: r.entry), headers: warnings)
    }

    func update(_ request: APIRequest, _ r: ResourceRequest, name: String, subresource: String?) throws(APIError) -> APIResponse {
        var object = try decodeBody(request)
        try checkKind(object, r.entry)
        try checkNamespace(&object, r)
        let bodyName = object["metadata"]?["name"]?.stringValue ?? ""
        if bodyName != name {
            throw APIError(Self.badRequest("the name of the object (\(bodyName)) does not match the name on the URL (\(name))"))
        }
        guard let old = existing(r.entry, namespace: r.namespace, name: name) else {
            throw APIError(Self.notFound(r.entry, name))
        }
        let requested = object["metadata"]?["resourceVersion"]?.stringValue ?? ""
        if requested.isEmpty {
            if r.entry.isCustom {
                throw APIError(
                    Self.invalid(r.entry, name, field: "metadata.resourceVersion", "Invalid value: 0x0: must be specified for an update"))
            }
        } else if requested != old["metadata"]?["resourceVersion"]?.stringValue {
            throw APIError(Self.conflict(r.entry, name))
        }
        let merged = mergeForWrite(old: old, new: object, entry: r.entry, subresource: subresource)
        let warnings = try checkFields(request, r, object) + admitPodSecurity(r, name: name, object: merged, old: old)
        if request.query["dryRun"] == "All" { return .json(200, present(merged, as: r.entry), headers: warnings) }
        let stored = try storeUpdate(entry: r.entry, key: objectKey(old, entry: r.entry), old: old, new: merged)
        return .json(200, stored, headers: warnings)
    }

    /// What a write through the main resource or the status subresource may change.
    func mergeForWrite(old: JSONValue, new: JSONValue, entry: ResourceRegistry.Entry, subresource: String?) -> JSONValue {
        if subresource == "status" {
            var result = old
            result["status"] = new["status"]
            return result
        }
        var result = new
        if entry.resource.hasStatus && !(entry.resource.group == "" && entry.resource.name == "namespaces") {
            result["status"] = old["status"]
        }
        if entry.resource.group == "" && entry.resource.name == "namespaces" && result["status"] == nil {
            result["status"] = old["status"]
        }
        return result
    }

    func patch(_ request: APIRequest, _ r: ResourceRequest, name: String, subresource: String?) throws(APIError) -> APIResponse {
        let type = request.contentType
        let patch = try decodeBody(request)
        let current = existing(r.entry, namespace: r.namespace, name: name)
        var patched: JSONValue
        var fieldWarnings: [(String, String)] = []
        switch type {
        case "application/apply-patch+yaml":
            guard let manager = request.query["fieldManager"], !manager.isEmpty else {
                throw APIError(
                    APIStatus(
                        code: 422, reason: "Invalid",
                        message: "PatchOptions.meta.k8s.io \"\" is invalid: fieldManager: Required value: is required for apply patch",
                        detailsGroup: "meta.k8s.io", detailsKind: "PatchOptions",
                        causes: [
                            .init(
                                reason: "FieldValueRequired", message: "Required value: is required for apply patch", field: "fieldManager")
                        ]))
            }
            try checkKind(patch, r.entry)
            guard let current else {
                var object = patch
                try checkNamespace(&object, r)
                let bodyName = object["metadata"]?["name"]?.stringValue ?? ""
                if bodyName != name {
                    throw APIError(Self.badRequest("the name of the object (\(bodyName)) does not match the name on the URL (\(name))"))
                }
                try validateName(name, r.entry)
                let warnings = try checkAppliedFields(request, r, patch: patch) + admitPodSecurity(r, name: name, object: object, old: nil)
                if request.query["dryRun"] == "All" { return .json(201, present(object, as: r.entry), headers: warnings) }
                let stored = try storeNew(entry: r.entry, object: object, namespace: r.namespace, fromAPI: subresource == nil)
                return .json(201, present(stored, as: r.entry), headers: warnings)
            }
            fieldWarnings = try checkAppliedFields(request, r, patch: patch)
            patched = ApplyPatch.merge(current, patch)
        case "application/merge-patch+json":
            guard let current else { throw APIError(Self.notFound(r.entry, name)) }
            patched = JSONPatch.mergePatch(current, with: patch)
        case "application/json-patch+json":
            guard let current else { throw APIError(Self.notFound(r.entry, name)) }
            do {
                patched = try JSONPatch.apply(patch, to: current)
            } catch {
                throw APIError(
                    APIStatus(
                        code: 422, reason: "Invalid", message: "the server rejected our request due to an error in our request: \(error)"))
            }
        case "application/strategic-merge-patch+json":
            if r.entry.isCustom {
                throw APIError(
                    APIStatus(
                        code: 415, reason: "UnsupportedMediaType",
                        message:
                            "the body of the request was in an unknown format - accepted media types include: "
                            + "application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml"
                    ))
            }
            guard let current else { throw APIError(Self.notFound(r.entry, name)) }
            do {
                patched = try StrategicMergePatch.apply(patch, to: current)
            } catch {
                throw APIError(
                    APIStatus(
                        code: 422, reason: "Invalid", message: "the server rejected our request due to an error in our request: \(error)"))
            }
        default:
            throw APIError(
                APIStatus(
                    code: 415, reason: "UnsupportedMediaType",
                    message:
                        "the body of the request was in an unknown format - accepted media types include: "
                        + "application/json-patch+json, application/merge-patch+json, "
                        + "application/apply-patch+yaml, application/strategic-merge-patch+json"
                ))
        }
        let live = current!
        if patched["metadata"]?["name"]?.stringValue != name {
            throw APIError(Self.badRequest("the name of the object cannot be changed by a patch"))
        }
        let requested = patch["metadata"]?["resourceVersion"]?.stringValue ?? ""
        if !requested.isEmpty && requested != live["metadata"]?["resourceVersion"]?.stringValue {
            throw APIError(Self.conflict(r.entry, name))
        }
        if subresource != "status" { try checkKind(patched, r.entry) }
        if type != "application/apply-patch+yaml" {
            fieldWarnings = try checkPatchedFields(request, r, patch: patch, patched: patched)
        }
        let merged = mergeForWrite(old: live, new: patched, entry: r.entry, subresource: subresource)
        let warnings = try fieldWarnings + admitPodSecurity(r, name: name, object: merged, old: live)
        if request.query["dryRun"] == "All" { return .json(200, present(merged, as: r.entry), headers: warnings) }
        let stored = try storeUpdate(entry: r.entry, key: objectKey(live, entry: r.entry), old: live, new: merged)
        return .json(200, stored, headers: warnings)
    }

    func deleteOptions(_ request: APIRequest) -> JSONValue {
        var options: JSONValue = [:]
        if !request.body.isEmpty, request.contentType != "application/vnd.kubernetes.protobuf",
            let body = try? JSONValue(parsing: request.body)
        {
            options = body
        }
        if let policy = request.query["propagationPolicy"] { options["propagationPolicy"] = .string(policy) }
        if let grace = request.query["gracePeriodSeconds"], let value = Int64(grace) { options["gracePeriodSeconds"] = .int(value) }
        return options
    }

    func deleteOne(_ request: APIRequest, _ r: ResourceRequest, name: String) throws(APIError) -> APIResponse {
        guard let current = existing(r.entry, namespace: r.namespace, name: name) else {
            throw APIError(Self.notFound(r.entry, name))
        }
        let options = deleteOptions(request)
        if let uid = options["preconditions"]?["uid"]?.stringValue, uid != current["metadata"]?["uid"]?.stringValue {
            throw APIError(
                APIStatus(
                    code: 409, reason: "Conflict",
                    message:
                        "Operation cannot be fulfilled on \(Self.qualified(r.entry)) \"\(name)\""
                        + ": Precondition failed: UID in precondition: \(uid)"
                        + ", UID in object meta: \(current["metadata"]?["uid"]?.stringValue ?? "")",
                    detailsName: name, detailsGroup: r.entry.resource.group, detailsKind: r.entry.resource.name))
        }
        if let rv = options["preconditions"]?["resourceVersion"]?.stringValue, rv != current["metadata"]?["resourceVersion"]?.stringValue {
            throw APIError(Self.conflict(r.entry, name))
        }
        if request.query["dryRun"] == "All" || options["dryRun"]?.arrayValue?.contains("All") == true {
            return .json(200, present(current, as: r.entry))
        }
        let propagation =
            options["propagationPolicy"]?.stringValue ?? (options["orphanDependents"]?.boolValue == true ? "Orphan" : "Background")
        let result = delete(entry: r.entry, key: objectKey(current, entry: r.entry), propagation: propagation)
        return .json(200, result)
    }

    func deleteCollection(_ request: APIRequest, _ r: ResourceRequest) throws(APIError) -> APIResponse {
        let (labels, fields) = try selectors(request, r.entry)
        let propagation = deleteOptions(request)["propagationPolicy"]?.stringValue ?? "Background"
        var deleted: [JSONValue] = []
        for (key, object) in (store[r.entry.storageKey] ?? [:]).sorted(by: { $0.key < $1.key }) {
            if let namespace = r.namespace, key.namespace != namespace { continue }
            guard labels.matches(object["metadata"]?["labels"]?.stringMap ?? [:]),
                fields.matches(fieldValues(of: object, entry: r.entry, for: fields))
            else { continue }
            deleted.append(delete(entry: r.entry, key: key, propagation: propagation))
        }
        return .json(200, listDocument(r.entry, items: deleted, metadata: ["resourceVersion": .string(String(clock))]))
    }

    func selectors(_ request: APIRequest, _ entry: ResourceRegistry.Entry) throws(APIError) -> (LabelSelector, FieldSelector) {
        let labels: LabelSelector
        let fields: FieldSelector
        do {
            labels = try LabelSelector(parsing: request.query["labelSelector"] ?? "")
            fields = try FieldSelector(parsing: request.query["fieldSelector"] ?? "")
        } catch {
            throw APIError(Self.badRequest("unable to parse requirement: \(error)"))
        }
        for term in fields.terms where !["metadata.name", "metadata.namespace"].contains(term.field) {
            guard entry.selectableFields.contains(term.field) else {
                throw APIError(Self.badRequest("field label not supported: \(term.field)"))
            }
        }
        return (labels, fields)
    }

    func listDocument(_ entry: ResourceRegistry.Entry, items: [JSONValue], metadata: JSONValue) -> JSONValue {
        [
            "kind": .string("\(entry.resource.kind)List"), "apiVersion": .string(entry.resource.apiVersion),
            "metadata": metadata, "items": .array(items),
        ]
    }

    func list(_ request: APIRequest, _ r: ResourceRequest) throws(APIError) -> JSONValue {
        let (labels, fields) = try selectors(request, r.entry)
        let limit = Int(request.query["limit"] ?? "") ?? 0
        var listRV = clock
        var startAfter: ObjectKey?
        if let token = request.query["continue"], !token.isEmpty {
            guard let data = Data(base64Encoded: token), let json = try? JSONValue(parsing: Array(data)),
                let rv = json["rv"]?.intValue, let start = json["start"]?.stringValue,
                let slash = start.firstIndex(of: "/")
            else {
                throw APIError(Self.badRequest("continue key is not valid: the continue token could not be decoded"))
            }
            if UInt64(rv) < compactedBelow {
                throw APIError(
                    APIStatus(
                        code: 410, reason: "Expired",
                        message:
                            "The provided continue parameter is too old to display a consistent list result. "
                            + "You can start a new list without the continue parameter, "
                            + "or use the continue token in this response to retrieve the remainder of the results. "
                            + "Continuing with the provided token results in an inconsistent list - "
                            + "objects that were created, modified, or deleted "
                            + "between the time the first chunk was returned and now may show up in the list."
                    ))
            }
            listRV = UInt64(rv)
            startAfter = ObjectKey(namespace: String(start[..<slash]), name: String(start[start.index(after: slash)...]))
        }
        let all = store[r.entry.storageKey] ?? [:]
        let keys = sortedKeys(r.entry.storageKey)
        // First key of the namespace (or of everything), then the first after the continue point.
        func firstIndex(after bound: ObjectKey, inclusive: Bool) -> Int {
            var low = 0
            var high = keys.count
            while low < high {
                let mid = (low + high) / 2
                if keys[mid] < bound || (!inclusive && keys[mid] == bound) { low = mid + 1 } else { high = mid }
            }
            return low
        }
        var index = r.namespace.map { firstIndex(after: ObjectKey(namespace: $0, name: ""), inclusive: true) } ?? 0
        if let startAfter { index = max(index, firstIndex(after: startAfter, inclusive: false)) }
        var items: [JSONValue] = []
        var continueToken: String?
        var remaining = 0
        while index < keys.count {
            let key = keys[index]
            if let namespace = r.namespace, key.namespace != namespace { break }
            index += 1
            guard let object = all[key] else { continue }
            guard labels.matches(object["metadata"]?["labels"]?.stringMap ?? [:]),
                fields.matches(fieldValues(of: object, entry: r.entry, for: fields))
            else { continue }
            if limit > 0 && items.count == limit {
                let lastKey = objectKey(items.last!, entry: r.entry)
                let token: JSONValue = ["v": "meta.k8s.io/v1", "rv": .int(Int64(listRV)), "start": .string(lastKey.token)]
                continueToken = Data(token.serialized()).base64EncodedString()
                if labels.isEverything && fields.terms.isEmpty {
                    let end =
                        r.namespace.map { firstIndex(after: ObjectKey(namespace: $0 + "\u{0}", name: ""), inclusive: true) } ?? keys.count
                    remaining = end - index + 1
                }
                break
            }
            items.append(present(object, as: r.entry))
        }
        var metadata: JSONValue = ["resourceVersion": .string(String(listRV))]
        if let continueToken {
            metadata["continue"] = .string(continueToken)
            if remaining > 0 { metadata["remainingItemCount"] = .int(Int64(remaining)) }
        }
        return listDocument(r.entry, items: items, metadata: metadata)
    }

    /// How to answer a `GET` as a Table, nil when the client did not ask for one.
    func tableRenderer(_ request: APIRequest, _ r: ResourceRequest) throws(APIError) -> TableRenderer? {
        guard let version = TableRenderer.requestedVersion(accept: request.accept) else { return nil }
        let raw = request.query["includeObject"] ?? ""
        guard let include = raw.isEmpty ? .metadata : TableRenderer.Include(rawValue: raw) else {
            throw APIError(Self.badRequest("unrecognized includeObject value: \"\(raw)\""))
        }
        let definitions = try? OpenAPIDefinitions.builtin.get()
        return TableRenderer(
            columns: TableRenderer.columns(for: r.entry, definitions: definitions), apiVersion: "meta.k8s.io/\(version)",
            include: include)
    }

    static func table(_ table: JSONValue, _ renderer: TableRenderer) -> APIResponse {
        var body = table.serialized()
        body.append(UInt8(ascii: "\n"))
        return .body(status: 200, contentType: renderer.contentType, body: body, headers: [])
    }

    func watch(_ request: APIRequest, _ r: ResourceRequest) throws(APIError) -> APIResponse {
        var (labels, fields) = try selectors(request, r.entry)
        if let name = r.name {
            fields.terms.append(.init(field: "metadata.name", value: name))
        }
        let result = startWatch(
            entry: r.entry, namespace: r.namespace, labels: labels, fields: fields,
            resourceVersion: request.query["resourceVersion"],
            bookmarks: request.query["allowWatchBookmarks"] == "true",
            sendInitialEvents: request.query["sendInitialEvents"] == "true",
            timeoutSeconds: request.query["timeoutSeconds"].flatMap { Int($0) })
        switch result {
        case .success(var stream):
            stream.table = try tableRenderer(request, r)
            return .watch(stream)
        case .failure(let error): throw error
        }
    }
}
