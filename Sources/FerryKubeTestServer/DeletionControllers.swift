import FerryKube

/// What kube-apiserver's admission and kube-controller-manager do around deletion, beyond the
/// background garbage collection in `delete`:
/// - `StorageObjectInUseProtection`: a claim created through the API gets the finalizer
///   `kubernetes.io/pvc-protection`; deleting it leaves it Terminating while a pod that has not
///   ended uses it, and the pvc-protection controller removes the finalizer once none does.
/// - Foreground deletion: the owner gets the `foregroundDeletion` finalizer and a deletion
///   timestamp, its dependents are deleted, and the owner goes once they are all gone.
/// Not done: `kubernetes.io/pv-protection` on PersistentVolumes.
extension APIServerState {
    static let pvcProtection = "kubernetes.io/pvc-protection"
    static let foregroundDeletion = "foregroundDeletion"
    static let claimsKey = StorageKey(group: "", resource: "persistentvolumeclaims")
    static let podsKey = StorageKey(group: "", resource: "pods")

    /// Admission: the protection finalizer on a new claim.
    static func protectOnCreate(_ object: inout JSONValue, entry: ResourceRegistry.Entry) {
        guard entry.storageKey == claimsKey else { return }
        var finalizers = object["metadata"]?["finalizers"]?.arrayValue ?? []
        if !finalizers.contains(.string(pvcProtection)) { finalizers.append(.string(pvcProtection)) }
        object.setValue(.array(finalizers), at: ["metadata", "finalizers"])
    }

    /// Marks `key` for foreground deletion and deletes its dependents; it goes once they have.
    func deleteInForeground(entry: ResourceRegistry.Entry, key: ObjectKey, object: JSONValue) -> JSONValue {
        var marked = object
        var finalizers = object["metadata"]?["finalizers"]?.arrayValue ?? []
        if !finalizers.contains(.string(Self.foregroundDeletion)) { finalizers.append(.string(Self.foregroundDeletion)) }
        marked.setValue(.array(finalizers), at: ["metadata", "finalizers"])
        if marked["metadata"]?["deletionTimestamp"] == nil {
            marked.setValue(.string(Self.timestamp()), at: ["metadata", "deletionTimestamp"])
            marked.setValue(0, at: ["metadata", "deletionGracePeriodSeconds"])
        }
        let rv = tick()
        marked.setValue(.string(String(rv)), at: ["metadata", "resourceVersion"])
        store[entry.storageKey]![key] = marked
        record(StoredEvent(resourceVersion: rv, type: "MODIFIED", key: entry.storageKey, object: marked, previous: object))
        if let uid = object["metadata"]?["uid"]?.stringValue {
            for (dependentEntry, dependentKey) in dependents(of: uid) {
                _ = delete(entry: dependentEntry, key: dependentKey, propagation: "Background")
            }
        }
        runDeletionControllers()
        return present(store[entry.storageKey]?[key] ?? marked, as: entry)
    }

    /// The stored objects that name `uid` as an owner.
    func dependents(of uid: String) -> [(ResourceRegistry.Entry, ObjectKey)] {
        var found: [(ResourceRegistry.Entry, ObjectKey)] = []
        for (storageKey, objects) in store {
            guard let entry = registry.entries(storageKey: storageKey).first else { continue }
            for (key, object) in objects
            where (object["metadata"]?["ownerReferences"]?.arrayValue ?? []).contains(where: { $0["uid"]?.stringValue == uid }) {
                found.append((entry, key))
            }
        }
        return found
    }

    /// Keeps `terminating` current for the object stored at `key` (nil: it is gone).
    func noteTermination(_ storageKey: StorageKey, _ key: ObjectKey, _ object: JSONValue?) {
        let stored = StoredObject(storageKey: storageKey, key: key)
        if let object, object["metadata"]?["deletionTimestamp"].map({ !$0.isNull }) == true {
            terminating.insert(stored)
        } else {
            terminating.remove(stored)
        }
    }

    /// The terminating objects of `storageKey` that still carry `finalizer`, as stored now.
    private func terminating(_ storageKey: StorageKey?, holding finalizer: String) -> [(StoredObject, JSONValue)] {
        terminating.compactMap { stored in
            guard storageKey.map({ $0 == stored.storageKey }) ?? true,
                let object = store[stored.storageKey]?[stored.key],
                (object["metadata"]?["finalizers"]?.arrayValue ?? []).contains(.string(finalizer))
            else { return nil }
            return (stored, object)
        }
        .sorted { ($0.0.storageKey.resource, $0.0.key) < ($1.0.storageKey.resource, $1.0.key) }
    }

    /// Releases claims no running pod uses and owners whose dependents are gone: only after the
    /// store changed (a release is a change: chains go on at the next request), and only among
    /// the terminating objects.
    func runDeletionControllers() {
        guard deletionControllersSaw != storeVersion, !terminating.isEmpty else { return }
        deletionControllersSaw = storeVersion
        releaseUnusedClaims()
        releaseForegroundOwners()
    }

    private func releaseUnusedClaims() {
        guard let entry = registry.entries(storageKey: Self.claimsKey).first else { return }
        let terminating = terminating(Self.claimsKey, holding: Self.pvcProtection).map { ($0.0.key, $0.1) }
        guard !terminating.isEmpty else { return }
        let pods = store[Self.podsKey] ?? [:]
        for (key, claim) in terminating {
            let used = pods.contains { podKey, pod in
                podKey.namespace == key.namespace && !["Succeeded", "Failed"].contains(pod["status"]?["phase"]?.stringValue ?? "")
                    && (pod["spec"]?["volumes"]?.arrayValue ?? []).contains {
                        $0["persistentVolumeClaim"]?["claimName"]?.stringValue == key.name
                    }
            }
            guard !used else { continue }
            removeFinalizer(Self.pvcProtection, entry: entry, key: key, object: claim)
        }
    }

    private func releaseForegroundOwners() {
        for (stored, object) in terminating(nil, holding: Self.foregroundDeletion) {
            guard let entry = registry.entries(storageKey: stored.storageKey).first,
                let uid = object["metadata"]?["uid"]?.stringValue, dependents(of: uid).isEmpty
            else { continue }
            removeFinalizer(Self.foregroundDeletion, entry: entry, key: stored.key, object: object)
        }
    }

    /// Removes a finalizer as its controller would (the object goes with its last finalizer).
    private func removeFinalizer(_ finalizer: String, entry: ResourceRegistry.Entry, key: ObjectKey, object: JSONValue) {
        var updated = object
        let remaining = (object["metadata"]?["finalizers"]?.arrayValue ?? []).filter { $0 != .string(finalizer) }
        updated.setValue(remaining.isEmpty ? nil : .array(remaining), at: ["metadata", "finalizers"])
        _ = try? storeUpdate(entry: entry, key: key, old: object, new: updated)
    }
}
