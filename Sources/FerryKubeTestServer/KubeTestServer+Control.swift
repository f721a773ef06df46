import FerryKube
import Foundation

extension KubeTestServer {
    /// Stores objects directly, as if restored into etcd: status, uid and creationTimestamp are
    /// kept when given (so recorded fixtures keep their ownerReference chains), CRDs register
    /// first, missing namespaces are created, `List` documents are expanded.
    @discardableResult
    public func load(_ objects: [JSONValue]) async throws -> [KubeObject] {
        try await state.load(objects).map(KubeObject.init)
    }

    /// Loads every document of a YAML or JSON text.
    @discardableResult
    public func load(yaml text: String) async throws -> [KubeObject] {
        try await load(try YAMLDocuments.parse(text))
    }

    /// Loads every `.yaml`, `.yml` and `.json` file under `directory`, in path order.
    @discardableResult
    public func load(directory: URL) async throws -> [KubeObject] {
        let files =
            FileManager.default.enumerator(at: directory, includingPropertiesForKeys: nil)?
            .compactMap { $0 as? URL }
            .filter { ["yaml", "yml", "json"].contains($0.pathExtension.lowercased()) }
            .sorted { $0.path < $1.path } ?? []
        var documents: [JSONValue] = []
        for file in files {
            let text = try String(contentsOf: file, encoding: .utf8)
            do {
                documents.append(contentsOf: try YAMLDocuments.parse(text))
            } catch {
                throw KubeTestServerError.load("\(file.path): \(error)")
            }
        }
        return try await load(documents)
    }

    /// The stored object, as the API would return it at the group's preferred version.
    public func object(apiVersion: String, kind: String, namespace: String? = nil, name: String) async -> KubeObject? {
        await state.storedObject(apiVersion: apiVersion, kind: kind, namespace: namespace, name: name).map(KubeObject.init)
    }

    /// Every stored object of a kind (optionally in one namespace), sorted by namespace and name.
    public func objects(apiVersion: String, kind: String, namespace: String? = nil) async -> [KubeObject] {
        await state.storedObjects(apiVersion: apiVersion, kind: kind, namespace: namespace).map(KubeObject.init)
    }

    /// Deletes an object directly (finalizers ignored), recording a DELETED event and collecting
    /// dependents. Returns whether it existed.
    @discardableResult
    public func delete(apiVersion: String, kind: String, namespace: String? = nil, name: String) async -> Bool {
        await state.deleteDirect(apiVersion: apiVersion, kind: kind, namespace: namespace, name: name)
    }

    /// Answer 403 Forbidden for matching requests from now on.
    public func deny(_ denial: Denial) async { await state.addDenial(denial) }
    public func clearDenials() async { await state.clearDenials() }

    /// Installs a hook; returns an id for `removeHook`.
    @discardableResult
    public func addHook(_ hook: RequestHook) async -> Int { await state.addHook(hook) }
    public func removeHook(_ id: Int) async { await state.removeHook(id) }

    /// Sends a BOOKMARK carrying the current resourceVersion to every watch that allows them.
    public func emitBookmarks() async { await state.emitBookmarks() }

    /// Drops the watch history: watches from any earlier resourceVersion, and continue tokens
    /// issued before now, get 410 Gone.
    public func compactHistory() async { await state.compact() }

    /// Ends every open watch, as an API server restart would.
    public func endWatches() async { await state.endAllWatches() }

    /// Finishes deleting every Terminating namespace now (what the namespace controller does
    /// `Options.namespaceFinalizationDelay` after the delete).
    public func finalizeNamespaces() async { await state.finalizeTerminatingNamespaces() }

    /// How many watches are open.
    public func activeWatches() async -> Int { await state.activeWatchCount }

    /// The current resourceVersion.
    public func currentResourceVersion() async -> String { String(await state.clock) }

    /// The requests served so far (bounded by `Options.requestLogCapacity`).
    /// What a TokenReview would answer for a ServiceAccount token this server issued
    /// (TokenRequest): the user (`system:serviceaccount:NS:NAME`) and the token's audiences;
    /// nil for a token it did not issue or one that expired.
    public func reviewToken(_ token: String) async -> (user: String, audiences: [String])? {
        await state.reviewToken(token).map { ($0.user, $0.audiences) }
    }

    public func requests() async -> [RecordedRequest] { await state.requestLog() }
    public func clearRequests() async { await state.clearRequestLog() }
}

extension APIServerState {
    func entry(apiVersion: String, kind: String) -> ResourceRegistry.Entry? {
        let gv = GroupVersion(apiVersion: apiVersion)
        return registry.entries.first { $0.resource.group == gv.group && $0.resource.version == gv.version && $0.resource.kind == kind }
            ?? registry.entry(group: gv.group, kind: kind)
    }

    func load(_ documents: [JSONValue]) throws -> [JSONValue] {
        var objects: [JSONValue] = []
        for document in documents {
            if let listKind = document["kind"]?.stringValue, listKind.hasSuffix("List"), let items = document["items"]?.arrayValue {
                // Items of typed lists omit kind and apiVersion, as the API returns them.
                let itemKind = String(listKind.dropLast(4))
                objects.append(
                    contentsOf: items.map { item in
                        var item = item
                        if item["kind"] == nil, !itemKind.isEmpty { item["kind"] = .string(itemKind) }
                        if item["apiVersion"] == nil, let apiVersion = document["apiVersion"] { item["apiVersion"] = apiVersion }
                        return item
                    })
            } else {
                objects.append(document)
            }
        }
        func rank(_ object: JSONValue) -> Int {
            switch object["kind"]?.stringValue {
            case "CustomResourceDefinition": return 0
            case "Namespace": return 1
            default: return 2
            }
        }
        let ordered = objects.enumerated().sorted { (rank($0.element), $0.offset) < (rank($1.element), $1.offset) }.map(\.element)
        var stored: [JSONValue] = []
        for object in ordered {
            guard let apiVersion = object["apiVersion"]?.stringValue, let kind = object["kind"]?.stringValue else {
                throw KubeTestServerError.load("an object has no apiVersion or kind: \(object.serializedString().prefix(200))")
            }
            guard let entry = entry(apiVersion: apiVersion, kind: kind) else {
                throw KubeTestServerError.load("no resource serves \(kind) in \(apiVersion) (load its CustomResourceDefinition first)")
            }
            var namespace: String?
            if entry.resource.namespaced {
                namespace = object["metadata"]?["namespace"]?.stringValue ?? "default"
                if !namespaceExists(namespace!) {
                    _ = try? storeNew(
                        entry: registry.entry(group: "", kind: "Namespace")!,
                        object: ["apiVersion": "v1", "kind": "Namespace", "metadata": ["name": .string(namespace!)]],
                        namespace: nil, fromAPI: true)
                }
            }
            let name = object["metadata"]?["name"]?.stringValue ?? ""
            guard APIServerState.isDNSSubdomain(name) || !name.isEmpty else {
                throw KubeTestServerError.load("\(kind) has no name")
            }
            replaceBootstrapObject(entry: entry, name: name)
            do {
                var result = try storeNew(entry: entry, object: object, namespace: namespace, fromAPI: false)
                // Keep recorded identity so ownerReferences in fixtures still resolve.
                let key = objectKey(result, entry: entry)
                let newUID = result["metadata"]?["uid"]?.stringValue ?? ""
                if let uid = object["metadata"]?["uid"]?.stringValue, !uid.isEmpty {
                    uidIndex.removeValue(forKey: newUID)
                    uidIndex[uid] = (entry.storageKey, key)
                    result.setValue(.string(uid), at: ["metadata", "uid"])
                }
                if let created = object["metadata"]?["creationTimestamp"], !created.isNull {
                    result.setValue(created, at: ["metadata", "creationTimestamp"])
                }
                if let generation = object["metadata"]?["generation"] {
                    result.setValue(generation, at: ["metadata", "generation"])
                }
                store[entry.storageKey]![key] = result
                noteTermination(entry.storageKey, key, result)
                stored.append(result)
            } catch {
                throw KubeTestServerError.load("\(kind) \(namespace.map { "\($0)/" } ?? "")\(name): \(error.status)")
            }
        }
        runControllers()
        return stored
    }

    func storedObject(apiVersion: String, kind: String, namespace: String?, name: String) -> JSONValue? {
        guard let entry = entry(apiVersion: apiVersion, kind: kind) else { return nil }
        return existing(entry, namespace: namespace, name: name).map { present($0, as: entry) }
    }

    func storedObjects(apiVersion: String, kind: String, namespace: String?) -> [JSONValue] {
        guard let entry = entry(apiVersion: apiVersion, kind: kind) else { return [] }
        return (store[entry.storageKey] ?? [:]).filter { namespace == nil || $0.key.namespace == namespace }
            .sorted { $0.key < $1.key }.map { present($0.value, as: entry) }
    }

    func deleteDirect(apiVersion: String, kind: String, namespace: String?, name: String) -> Bool {
        guard let entry = entry(apiVersion: apiVersion, kind: kind) else { return false }
        let key = ObjectKey(namespace: entry.resource.namespaced ? (namespace ?? "") : "", name: name)
        guard store[entry.storageKey]?[key] != nil else { return false }
        _ = delete(entry: entry, key: key, propagation: "Force")
        return true
    }
}

extension KubeTestServer {
    /// A client configuration for this server (plain HTTP, generous rate limit, quick retries)
    /// with a bearer token: nil is the admin's (`system:masters`, what test set-up uses).
    public func clientConfiguration(namespace: String = "default", token: String? = nil) -> KubeClientConfiguration {
        KubeClientConfiguration(
            server: url, credentials: .token(token ?? adminToken), namespace: namespace, queriesPerSecond: 10_000,
            burst: 10_000, maxRetries: 3, maxRetryDelay: .seconds(2), origin: "ferry-testkube")
    }
}
