import FerryKube
import Foundation

extension APIServerState {
    static func timestamp(_ date: Date = Date()) -> String {
        var t = time_t(date.timeIntervalSince1970)
        var parts = tm()
        gmtime_r(&t, &parts)
        func pad(_ v: Int32, _ w: Int = 2) -> String { String(v).leftPad(w) }
        return "\(pad(parts.tm_year + 1900, 4))-\(pad(parts.tm_mon + 1))-\(pad(parts.tm_mday))T"
            + "\(pad(parts.tm_hour)):\(pad(parts.tm_min)):\(pad(parts.tm_sec))Z"
    }

    func objectKey(_ object: JSONValue, entry: ResourceRegistry.Entry) -> ObjectKey {
        ObjectKey(
            namespace: entry.resource.namespaced ? namespaceOf(object) : "",
            name: object["metadata"]?["name"]?.stringValue ?? "")
    }

    func existing(_ entry: ResourceRegistry.Entry, namespace: String?, name: String) -> JSONValue? {
        store[entry.storageKey]?[ObjectKey(namespace: entry.resource.namespaced ? (namespace ?? "") : "", name: name)]
    }

    func namespaceExists(_ name: String) -> Bool {
        store[StorageKey(group: "", resource: "namespaces")]?[ObjectKey(namespace: "", name: name)] != nil
    }

    /// Stores a new object: assigns uid, creationTimestamp, resourceVersion (and generation for
    /// objects with a spec), applies kind-specific defaults, records an ADDED event.
    /// `fromAPI` applies create semantics (status dropped for kinds with a status subresource);
    /// fixture loading keeps status as given.
    func storeNew(entry: ResourceRegistry.Entry, object input: JSONValue, namespace: String?, fromAPI: Bool) throws(APIError) -> JSONValue {
        try checkRBACWrite(entry: entry, object: input, old: nil)
        var object = input
        let name = object["metadata"]?["name"]?.stringValue ?? ""
        let key = ObjectKey(namespace: entry.resource.namespaced ? (namespace ?? "") : "", name: name)
        if store[entry.storageKey]?[key] != nil {
            throw APIError(Self.alreadyExists(entry, name))
        }
        var metadata = object["metadata"] ?? [:]
        let uid = UUID().uuidString.lowercased()
        metadata["uid"] = .string(uid)
        metadata["creationTimestamp"] = .string(Self.timestamp())
        metadata["selfLink"] = nil
        metadata["deletionTimestamp"] = nil
        metadata["managedFields"] = nil
        if entry.resource.namespaced {
            metadata["namespace"] = .string(key.namespace)
        } else {
            metadata["namespace"] = nil
        }
        if object["spec"] != nil || entry.isCustom { metadata["generation"] = 1 } else { metadata["generation"] = nil }
        let rv = tick()
        metadata["resourceVersion"] = .string(String(rv))
        object["metadata"] = metadata
        object["apiVersion"] = .string(entry.resource.apiVersion)
        object["kind"] = .string(entry.resource.kind)
        if fromAPI && entry.resource.hasStatus && !(entry.resource.group == "" && entry.resource.name == "namespaces") {
            object["status"] = nil
        }
        if fromAPI { pruneUnknownFields(&object, entry: entry) }
        // A loaded fixture's status stands for what controllers wrote; it is not checked here.
        try applyDefaults(&object, entry: entry, creating: true, validateStatus: fromAPI)
        if fromAPI {
            Self.protectOnCreate(&object, entry: entry)
            setDefaultStorageClass(&object, entry: entry)
        }
        try Self.checkStorageLimit(object)
        store[entry.storageKey, default: [:]][key] = object
        uidIndex[uid] = (entry.storageKey, key)
        record(StoredEvent(resourceVersion: rv, type: "ADDED", key: entry.storageKey, object: object, previous: nil))
        return object
    }

    /// Replaces a stored object, bumping resourceVersion (and generation when the spec changed);
    /// an update that changes nothing is a no-op that keeps the resourceVersion, as in kube-apiserver.
    /// An object marked for deletion whose last finalizer is removed is deleted.
    func storeUpdate(entry: ResourceRegistry.Entry, key: ObjectKey, old: JSONValue, new input: JSONValue) throws(APIError) -> JSONValue {
        try checkRBACWrite(entry: entry, object: input, old: old)
        var object = input
        var metadata = object["metadata"] ?? [:]
        let oldMeta = old["metadata"] ?? [:]
        for field in ["uid", "creationTimestamp", "namespace", "name", "deletionTimestamp", "deletionGracePeriodSeconds"] {
            metadata[field] = oldMeta[field]
        }
        metadata["generation"] = oldMeta["generation"]
        metadata["resourceVersion"] = oldMeta["resourceVersion"]
        metadata["managedFields"] = nil
        metadata["selfLink"] = nil
        object["metadata"] = metadata
        object["apiVersion"] = old["apiVersion"]
        object["kind"] = old["kind"]
        pruneUnknownFields(&object, entry: entry)
        try applyDefaults(&object, entry: entry, creating: false)
        let forbidden = ImmutableFields.check(group: entry.resource.group, resource: entry.resource.name, old: old, new: object)
        if !forbidden.isEmpty { throw APIError(Self.invalid(entry, key.name, causes: forbidden)) }
        if object == old { return present(old, as: entry) }
        if Self.specPart(object) != Self.specPart(old), let generation = oldMeta["generation"]?.intValue {
            object.setValue(.int(generation + 1), at: ["metadata", "generation"])
        }
        try Self.checkStorageLimit(object)
        let rv = tick()
        object.setValue(.string(String(rv)), at: ["metadata", "resourceVersion"])
        if object["metadata"]?["deletionTimestamp"] != nil,
            (object["metadata"]?["finalizers"]?.arrayValue ?? []).isEmpty
        {
            removeStored(entry: entry, key: key, object: object, rv: rv, propagation: "Background")
            return present(object, as: entry)
        }
        store[entry.storageKey, default: [:]][key] = object
        record(StoredEvent(resourceVersion: rv, type: "MODIFIED", key: entry.storageKey, object: object, previous: old))
        if entry.resource.group == "apiextensions.k8s.io" && entry.resource.name == "customresourcedefinitions" {
            registerCRD(object)
        }
        return present(object, as: entry)
    }

    /// Everything but metadata and status: what `generation` tracks.
    static func specPart(_ object: JSONValue) -> JSONValue {
        var copy = object
        copy["metadata"] = nil
        copy["status"] = nil
        return copy
    }

    /// Deletes an object now (or marks it for deletion when it has finalizers), then collects
    /// its dependents as the garbage collector would.
    func delete(entry: ResourceRegistry.Entry, key: ObjectKey, propagation: String) -> JSONValue {
        guard let object = store[entry.storageKey]?[key] else { return .null }
        let rv = tick()
        var final = object
        final.setValue(.string(String(rv)), at: ["metadata", "resourceVersion"])
        if entry.resource.group == "" && entry.resource.name == "namespaces" && propagation != "Force" {
            // The namespace turns Terminating; its content goes later, as the controller does it.
            if object["metadata"]?["deletionTimestamp"] == nil {
                final.setValue(.string(Self.timestamp()), at: ["metadata", "deletionTimestamp"])
                final.setValue("Terminating", at: ["status", "phase"])
                store[entry.storageKey]![key] = final
                record(StoredEvent(resourceVersion: rv, type: "MODIFIED", key: entry.storageKey, object: final, previous: object))
                let delay = options.namespaceFinalizationDelay
                Task(executorPreference: ServerThreads.shared) { [weak self] in
                    try? await Task.sleep(for: delay)
                    await self?.finalizeNamespace(key.name)
                }
            }
            return present(final, as: entry)
        }
        if propagation == "Foreground", let uid = object["metadata"]?["uid"]?.stringValue, !dependents(of: uid).isEmpty {
            return deleteInForeground(entry: entry, key: key, object: object)
        }
        if !(object["metadata"]?["finalizers"]?.arrayValue ?? []).isEmpty && propagation != "Force" {
            if object["metadata"]?["deletionTimestamp"] == nil {
                final.setValue(.string(Self.timestamp()), at: ["metadata", "deletionTimestamp"])
                final.setValue(0, at: ["metadata", "deletionGracePeriodSeconds"])
                store[entry.storageKey]![key] = final
                record(StoredEvent(resourceVersion: rv, type: "MODIFIED", key: entry.storageKey, object: final, previous: object))
            }
            return present(final, as: entry)
        }
        removeStored(entry: entry, key: key, object: final, rv: rv, propagation: propagation)
        return present(final, as: entry)
    }

    func removeStored(entry: ResourceRegistry.Entry, key: ObjectKey, object: JSONValue, rv: UInt64, propagation: String) {
        store[entry.storageKey]?.removeValue(forKey: key)
        if let uid = object["metadata"]?["uid"]?.stringValue { uidIndex.removeValue(forKey: uid) }
        record(StoredEvent(resourceVersion: rv, type: "DELETED", key: entry.storageKey, object: object, previous: object))
        if entry.resource.group == "" && entry.resource.name == "namespaces" {
            deleteNamespaceContents(key.name)
        }
        if entry.resource.group == "apiextensions.k8s.io" && entry.resource.name == "customresourcedefinitions" {
            unregisterCRD(key.name)
        }
        if let uid = object["metadata"]?["uid"]?.stringValue {
            collectDependents(of: uid, namespace: key.namespace, orphan: propagation == "Orphan")
        }
    }

    func finalizeNamespace(_ name: String) {
        let key = ObjectKey(namespace: "", name: name)
        let namespaces = StorageKey(group: "", resource: "namespaces")
        guard let object = store[namespaces]?[key], object["metadata"]?["deletionTimestamp"] != nil,
            let entry = registry.entries(storageKey: namespaces).first
        else { return }
        removeStored(entry: entry, key: key, object: object, rv: tick(), propagation: "Background")
    }

    func finalizeTerminatingNamespaces() {
        let namespaces = StorageKey(group: "", resource: "namespaces")
        for (key, object) in store[namespaces] ?? [:] where object["metadata"]?["deletionTimestamp"] != nil {
            finalizeNamespace(key.name)
        }
    }

    func isTerminating(namespace: String) -> Bool {
        store[StorageKey(group: "", resource: "namespaces")]?[ObjectKey(namespace: "", name: namespace)]?["metadata"]?["deletionTimestamp"]
            != nil
    }

    func deleteNamespaceContents(_ namespace: String) {
        for entry in registry.entries where entry.resource.namespaced {
            for key in (store[entry.storageKey] ?? [:]).keys where key.namespace == namespace {
                guard let object = store[entry.storageKey]?[key] else { continue }
                removeStored(entry: entry, key: key, object: object, rv: tick(), propagation: "Background")
            }
        }
    }

    /// Background garbage collection: a dependent goes when none of its owners exists any more;
    /// with Orphan propagation the owner reference is removed instead.
    func collectDependents(of uid: String, namespace: String, orphan: Bool) {
        for (storageKey, objects) in store {
            guard let entry = registry.entries(storageKey: storageKey).first else { continue }
            for (key, object) in objects {
                let owners = object["metadata"]?["ownerReferences"]?.arrayValue ?? []
                guard owners.contains(where: { $0["uid"]?.stringValue == uid }) else { continue }
                guard let current = store[storageKey]?[key] else { continue }
                if orphan {
                    var updated = current
                    let remaining = owners.filter { $0["uid"]?.stringValue != uid }
                    updated.setValue(remaining.isEmpty ? nil : .array(remaining), at: ["metadata", "ownerReferences"])
                    _ = try? storeUpdate(entry: entry, key: key, old: current, new: updated)
                } else if !owners.contains(where: { uidIndex[$0["uid"]?.stringValue ?? ""] != nil }) {
                    _ = delete(entry: entry, key: key, propagation: "Background")
                }
            }
        }
    }

    /// A built-in kind keeps only what its Go type has fields for (custom resources are pruned
    /// to their structural schema in `applyDefaults`).
    func pruneUnknownFields(_ object: inout JSONValue, entry: ResourceRegistry.Entry) {
        if let definition = definitionName(entry) { fieldValidator?.prune(&object, definition: definition) }
    }

    /// Kind-specific behaviour kube-apiserver's strategies apply on write.
    func applyDefaults(_ object: inout JSONValue, entry: ResourceRegistry.Entry, creating: Bool, validateStatus: Bool = true)
        throws(APIError)
    {
        if let schema = entry.schema {
            StructuralPruning.prune(&object, schema: schema)
            StructuralValidation.applyDefaults(&object, schema: schema)
            var checked = object
            if !validateStatus { checked["status"] = nil }
            let causes = StructuralValidation.validate(checked, schema: schema)
            if !causes.isEmpty { throw APIError(Self.invalid(entry, object["metadata"]?["name"]?.stringValue ?? "", causes: causes)) }
        }
        switch (entry.resource.group, entry.resource.name) {
        case ("", "secrets"):
            if let stringData = object["stringData"]?.objectValue {
                var data = object["data"] ?? [:]
                for (key, value) in stringData {
                    data[key] = .string(Data((value.stringValue ?? "").utf8).base64EncodedString())
                }
                object["data"] = data
                object["stringData"] = nil
            }
            if object["type"] == nil { object["type"] = "Opaque" }
        case ("", "namespaces"):
            if creating {
                object.setValue(.string("Active"), at: ["status", "phase"])
                if object["spec"]?["finalizers"] == nil { object.setValue(["kubernetes"], at: ["spec", "finalizers"]) }
            }
        case ("", "services"):
            let type = object["spec"]?["type"]?.stringValue ?? "ClusterIP"
            if object["spec"]?["type"] == nil { object.setValue("ClusterIP", at: ["spec", "type"]) }
            if creating && type != "ExternalName" && object["spec"]?["clusterIP"] == nil {
                nextServiceIP += 1
                let ip = "10.96.\(nextServiceIP / 250).\(nextServiceIP % 250 + 1)"
                object.setValue(.string(ip), at: ["spec", "clusterIP"])
                object.setValue([.string(ip)], at: ["spec", "clusterIPs"])
            }
        case ("apiextensions.k8s.io", "customresourcedefinitions"):
            switch ResourceRegistry.crdEntries(object) {
            case .failure(let error): throw error
            case .success:
                let names = object["spec"]?["names"] ?? [:]
                var status = object["status"] ?? [:]
                var accepted = names
                if accepted["singular"] == nil {
                    accepted["singular"] = .string((names["kind"]?.stringValue ?? "").lowercased())
                }
                if accepted["listKind"] == nil { accepted["listKind"] = .string("\(names["kind"]?.stringValue ?? "")List") }
                status["acceptedNames"] = accepted
                let now = JSONValue.string(Self.timestamp())
                status["conditions"] = [
                    [
                        "type": "NamesAccepted", "status": "True", "reason": "NoConflicts", "message": "no conflicts found",
                        "lastTransitionTime": now,
                    ],
                    [
                        "type": "Established", "status": "True", "reason": "InitialNamesAccepted",
                        "message": "the initial names have been accepted", "lastTransitionTime": now,
                    ],
                ]
                status["storedVersions"] = .array(
                    (object["spec"]?["versions"]?.arrayValue ?? []).filter { $0["storage"]?.boolValue == true }
                        .compactMap { $0["name"] })
                object["status"] = status
                if creating { registerCRD(object) }
            }
        default:
            break
        }
    }

    func registerCRD(_ crd: JSONValue) {
        guard case .success(let entries) = ResourceRegistry.crdEntries(crd),
            let name = crd["metadata"]?["name"]?.stringValue
        else { return }
        registry.register(crdName: name, entries: entries)
        openAPIPublisher.resourcesChanged()
    }

    func unregisterCRD(_ name: String) {
        let removed = registry.unregister(crdName: name)
        openAPIPublisher.resourcesChanged()
        for key in Set(removed.map(\.storageKey)) { store.removeValue(forKey: key) }
    }

    /// etcd's default request limit (`--max-request-bytes`, 1.5 MiB): a larger object is refused
    /// by etcd, and kube-apiserver passes its error on as an unclassified 500.
    static let etcdRequestLimit = 1_572_864

    static func checkStorageLimit(_ object: JSONValue) throws(APIError) {
        guard object.serialized().count > etcdRequestLimit else { return }
        throw APIError(APIStatus(code: 500, reason: "", message: "etcdserver: request is too large"))
    }

    static func alreadyExists(_ entry: ResourceRegistry.Entry, _ name: String) -> APIStatus {
        APIStatus(
            code: 409, reason: "AlreadyExists", message: "\(qualified(entry)) \"\(name)\" already exists",
            detailsName: name, detailsGroup: entry.resource.group, detailsKind: entry.resource.name)
    }

    static func notFound(_ entry: ResourceRegistry.Entry, _ name: String) -> APIStatus {
        APIStatus(
            code: 404, reason: "NotFound", message: "\(qualified(entry)) \"\(name)\" not found",
            detailsName: name, detailsGroup: entry.resource.group, detailsKind: entry.resource.name)
    }

    static func conflict(_ entry: ResourceRegistry.Entry, _ name: String) -> APIStatus {
        APIStatus(
            code: 409, reason: "Conflict",
            message:
                "Operation cannot be fulfilled on \(qualified(entry)) \"\(name)\""
                + ": the object has been modified; please apply your changes to the latest version and try again",
            detailsName: name, detailsGroup: entry.resource.group, detailsKind: entry.resource.name)
    }

    static func invalid(
        _ entry: ResourceRegistry.Entry, _ name: String, field: String, reason: String = "FieldValueInvalid", _ message: String
    ) -> APIStatus {
        APIStatus(
            code: 422, reason: "Invalid",
            message:
                "\(entry.resource.kind)\(entry.resource.group.isEmpty ? "" : "." + entry.resource.group)"
                + " \"\(name)\" is invalid: \(field): \(message)",
            detailsName: name, detailsGroup: entry.resource.group, detailsKind: entry.resource.kind,
            causes: [.init(reason: reason, message: message, field: field)])
    }

    /// A 422 with every failed check, as the real server lists them (`[a, b]` when several).
    static func invalid(_ entry: ResourceRegistry.Entry, _ name: String, causes: [StructuralValidation.Cause]) -> APIStatus {
        let listed = causes.map { "\($0.field): \($0.message)" }
        return APIStatus(
            code: 422, reason: "Invalid",
            message: "\(entry.resource.kind)\(entry.resource.group.isEmpty ? "" : "." + entry.resource.group) \"\(name)\" is invalid: "
                + (listed.count == 1 ? listed[0] : "[\(listed.joined(separator: ", "))]"),
            detailsName: name, detailsGroup: entry.resource.group, detailsKind: entry.resource.kind,
            causes: causes.map { .init(reason: $0.reason, message: $0.message, field: $0.field) })
    }

    static func badRequest(_ message: String) -> APIStatus {
        APIStatus(code: 400, reason: "BadRequest", message: message)
    }

    /// `deployments.apps`, or `secrets` for the core group.
    static func qualified(_ entry: ResourceRegistry.Entry) -> String {
        entry.resource.group.isEmpty ? entry.resource.name : "\(entry.resource.name).\(entry.resource.group)"
    }
}

/// An API failure carried as a Status answer.
struct APIError: Error {
    var status: APIStatus
    init(_ status: APIStatus) { self.status = status }
}

extension String {
    func leftPad(_ width: Int) -> String {
        count >= width ? self : String(repeating: "0", count: width - count) + self
    }
}
