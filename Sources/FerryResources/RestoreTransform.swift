import FerryApps
import FerryKube

/// Turns a captured object into what is created on the target cluster: namespaces mapped, owner
/// references pointed at the owners' new uids (or dropped when the owner is not there), and
/// bindings to the old cluster removed (a claim's volume that was not captured, a Job's
/// generated selector, a Pod's node).
struct RestoreTransform: Sendable {
    /// Source namespace → target namespace.
    var namespaceMapping: [String: String]

    func namespace(_ name: String) -> String { namespaceMapping[name] ?? name }

    /// Where a captured object lands.
    func target(_ reference: ObjectReference) -> ObjectReference {
        var mapped = reference
        mapped.namespace = reference.namespace.map(namespace)
        if reference.groupKind == GroupKind(group: "", kind: "Namespace") { mapped.name = namespace(reference.name) }
        return mapped
    }

    /// - Parameters:
    ///   - volumes: the captured PersistentVolumes a restored claim may stay bound to.
    ///   - ownerUID: the uid on the target cluster of an owner (by reference), or nil.
    func apply(to captured: KubeObject, volumes: RestorableVolumes, ownerUID: (ObjectReference) -> String?) -> KubeObject {
        var json = captured.json
        let kind = captured.groupKind
        if let ns = captured.namespace, namespace(ns) != ns {
            json.setValue(.string(namespace(ns)), at: ["metadata", "namespace"])
            // A release record names its namespace too; unreadable records are restored as they are.
            if HelmRelease.isStorageObject(captured), let moved = try? HelmRelease.storageObject(captured, movedTo: namespace(ns)) {
                json["data"] = moved["data"]
            }
        }
        if kind == GroupKind(group: "", kind: "Namespace") { json.setValue(.string(namespace(captured.name)), at: ["metadata", "name"]) }

        let owners = captured.ownerReferences.compactMap { owner -> JSONValue? in
            let reference = ObjectReference(
                group: owner.groupKind.group, kind: owner.kind, namespace: captured.namespace.map(namespace), name: owner.name)
            guard let uid = ownerUID(reference) else { return nil }
            var restored = owner
            restored.uid = uid
            return restored.json
        }
        json.setValue(owners.isEmpty ? nil : .array(owners), at: ["metadata", "ownerReferences"])

        switch (kind.group, kind.kind) {
        case ("rbac.authorization.k8s.io", "RoleBinding"), ("rbac.authorization.k8s.io", "ClusterRoleBinding"):
            if let subjects = json["subjects"]?.arrayValue {
                json["subjects"] = .array(
                    subjects.map { subject in
                        var subject = subject
                        if let ns = subject["namespace"]?.stringValue { subject["namespace"] = .string(namespace(ns)) }
                        return subject
                    })
            }
        case ("", "PersistentVolume"):
            if let ns = json["spec"]?["claimRef"]?["namespace"]?.stringValue {
                json.setValue(.string(namespace(ns)), at: ["spec", "claimRef", "namespace"])
            }
        case ("", "PersistentVolumeClaim"):
            // Bound to a volume that will not be there for it: let the cluster provision or bind anew.
            let claim = "\(captured.namespace.map(namespace) ?? "")/\(captured.name)"
            if let volume = json["spec"]?["volumeName"]?.stringValue, !volumes.keepsBinding(claim: claim, to: volume) {
                json.setValue(nil, at: ["spec", "volumeName"])
                for annotation in Self.bindingAnnotations { json.setValue(nil, at: ["metadata", "annotations", annotation]) }
            }
        case ("batch", "Job"):
            // The API server generates the selector and its labels unless the Job chose its own.
            if json["spec"]?["manualSelector"]?.boolValue != true {
                json.setValue(nil, at: ["spec", "selector"])
                for label in Self.jobControllerLabels { json.setValue(nil, at: ["spec", "template", "metadata", "labels", label]) }
            }
        case ("", "Pod"):
            json.setValue(nil, at: ["spec", "nodeName"])
        default:
            break
        }
        return KubeObject(json)
    }

    static let bindingAnnotations = [
        "pv.kubernetes.io/bind-completed", "pv.kubernetes.io/bound-by-controller", "volume.kubernetes.io/selected-node",
    ]
    static let jobControllerLabels = [
        "controller-uid", "batch.kubernetes.io/controller-uid", "job-name", "batch.kubernetes.io/job-name",
    ]
}
