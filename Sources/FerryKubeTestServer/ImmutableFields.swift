import FerryKube

/// The update validation of the built-in kinds Ferry creates or restores: what kube-apiserver
/// refuses to change once an object exists, with its messages (k8s.io/kubernetes
/// pkg/apis/core/validation and pkg/apis/apps/validation, the first line of each; the real
/// server appends a diff of the spec to some). A restore with `existing: update` meets these as
/// it would on a real cluster. Not covered: the many finer field rules of each kind's create
/// validation.
enum ImmutableFields {
    /// The failed checks of replacing `old` by `new` (none: allowed).
    static func check(group: String, resource: String, old: JSONValue, new: JSONValue) -> [StructuralValidation.Cause] {
        switch (group, resource) {
        case ("", "persistentvolumeclaims"): return claim(old: old, new: new)
        case ("", "pods"): return pod(old: old, new: new)
        case ("", "services"): return service(old: old, new: new)
        case ("apps", "deployments"), ("apps", "replicasets"), ("apps", "daemonsets"):
            return selector(old: old, new: new)
        case ("apps", "statefulsets"): return statefulSet(old: old, new: new)
        case ("batch", "jobs"): return job(old: old, new: new)
        case ("snapshot.storage.k8s.io", "volumesnapshots"), ("snapshot.storage.k8s.io", "volumesnapshotcontents"):
            return immutable(["spec", "source"], old: old, new: new, message: "Invalid value: \"object\": source is immutable")
        default: return []
        }
    }

    /// A claim's spec is fixed but for a larger storage request, its volume attributes class and
    /// the binding of an unbound claim (the volume binder sets `volumeName`).
    static func claim(old: JSONValue, new: JSONValue) -> [StructuralValidation.Cause] {
        var before = old["spec"] ?? [:]
        var after = new["spec"] ?? [:]
        if (before["volumeName"]?.stringValue ?? "").isEmpty { before["volumeName"] = after["volumeName"] }
        var causes: [StructuralValidation.Cause] = []
        let oldStorage = before["resources"]?["requests"]?["storage"]?.stringValue.flatMap(Quantity.bytes)
        let newStorage = after["resources"]?["requests"]?["storage"]?.stringValue.flatMap(Quantity.bytes)
        if let oldStorage, let newStorage, newStorage < oldStorage {
            causes.append(
                .init(
                    field: "spec.resources.requests.storage", reason: "FieldValueForbidden",
                    message: "Forbidden: field can not be less than previous value"))
        }
        for field in ["resources", "volumeAttributesClassName"] {
            before[field] = nil
            after[field] = nil
        }
        if before != after {
            causes.append(
                .init(
                    field: "spec", reason: "FieldValueForbidden",
                    message:
                        "Forbidden: spec is immutable after creation"
                        + " except resources.requests and volumeAttributesClassName for bound claims"
                ))
        }
        return causes
    }

    /// A pod may change only its containers' images, activeDeadlineSeconds, added tolerations
    /// and terminationGracePeriodSeconds (and its scheduling gates' removal).
    static func pod(old: JSONValue, new: JSONValue) -> [StructuralValidation.Cause] {
        func mutableCleared(_ spec: JSONValue?) -> JSONValue {
            var spec = spec ?? [:]
            for list in ["containers", "initContainers", "ephemeralContainers"] {
                if let containers = spec[list]?.arrayValue {
                    spec[list] = .array(
                        containers.map {
                            var container = $0; container["image"] = nil; return container
                        })
                }
            }
            for field in ["activeDeadlineSeconds", "tolerations", "terminationGracePeriodSeconds", "schedulingGates"] { spec[field] = nil }
            return spec
        }
        var causes: [StructuralValidation.Cause] = []
        if let before = old["spec"]?["tolerations"]?.arrayValue,
            !before.allSatisfy((new["spec"]?["tolerations"]?.arrayValue ?? []).contains)
        {
            causes.append(
                .init(
                    field: "spec.tolerations", reason: "FieldValueForbidden",
                    message: "Forbidden: existing toleration can not be modified except its tolerationSeconds"))
        }
        // The scheduler sets nodeName through the binding subresource, which this server does not
        // serve: an unscheduled pod's nodeName may be set once by an update instead.
        var before = mutableCleared(old["spec"])
        if (before["nodeName"]?.stringValue ?? "").isEmpty { before["nodeName"] = new["spec"]?["nodeName"] }
        if before != mutableCleared(new["spec"]) {
            causes.append(
                .init(
                    field: "spec", reason: "FieldValueForbidden",
                    message: "Forbidden: pod updates may not change fields other than "
                        + "`spec.containers[*].image`,`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,"
                        + "`spec.tolerations` (only additions to "
                        + "existing tolerations),`spec.terminationGracePeriodSeconds` "
                        + "(allow it to be set to 1 if it was previously negative)"
                ))
        }
        return causes
    }

    /// A Service keeps its cluster IP(s) once set.
    static func service(old: JSONValue, new: JSONValue) -> [StructuralValidation.Cause] {
        guard let before = old["spec"]?["clusterIP"]?.stringValue, !before.isEmpty, old["spec"]?["type"] != "ExternalName",
            new["spec"]?["type"] != "ExternalName"
        else { return [] }
        let after = new["spec"]?["clusterIP"]?.stringValue ?? ""
        guard after != before else { return [] }
        return [
            .init(
                field: "spec.clusterIPs[0]", reason: "FieldValueInvalid",
                message: "Invalid value: []string{\"\(after)\"}: may not change once set")
        ]
    }

    /// Deployments, ReplicaSets and DaemonSets keep their selector.
    static func selector(old: JSONValue, new: JSONValue) -> [StructuralValidation.Cause] {
        immutable(
            ["spec", "selector"], old: old, new: new, message: "Invalid value: \(shown(new["spec"]?["selector"])): field is immutable")
    }

    /// A StatefulSet may change only replicas, ordinals, template, updateStrategy,
    /// persistentVolumeClaimRetentionPolicy and minReadySeconds.
    static func statefulSet(old: JSONValue, new: JSONValue) -> [StructuralValidation.Cause] {
        var before = old["spec"] ?? [:]
        var after = new["spec"] ?? [:]
        for field in ["replicas", "ordinals", "template", "updateStrategy", "persistentVolumeClaimRetentionPolicy", "minReadySeconds"] {
            before[field] = nil
            after[field] = nil
        }
        guard before != after else { return [] }
        return [
            .init(
                field: "spec", reason: "FieldValueForbidden",
                message: "Forbidden: updates to statefulset spec for fields other than 'replicas', "
                    + "'ordinals', 'template', 'updateStrategy', 'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are forbidden"
            )
        ]
    }

    /// A Job keeps its selector and pod template.
    static func job(old: JSONValue, new: JSONValue) -> [StructuralValidation.Cause] {
        immutable(
            ["spec", "selector"], old: old, new: new, message: "Invalid value: \(shown(new["spec"]?["selector"])): field is immutable")
            + immutable(
                ["spec", "template"], old: old, new: new, message: "Invalid value: \(shown(new["spec"]?["template"])): field is immutable")
    }

    private static func immutable(_ path: [String], old: JSONValue, new: JSONValue, message: String) -> [StructuralValidation.Cause] {
        func value(_ object: JSONValue) -> JSONValue? { path.reduce(Optional(object)) { $0?[$1] } }
        guard value(old) != nil, value(old) != value(new) else { return [] }
        return [.init(field: path.joined(separator: "."), reason: "FieldValueInvalid", message: message)]
    }

    private static func shown(_ value: JSONValue?) -> String { value?.serializedString() ?? "null" }
}

/// Kubernetes resource quantities of storage (`8Mi`, `10G`, `1.5Gi`), in bytes.
enum Quantity {
    static func bytes(_ text: String) -> Double? {
        let suffixes: [(String, Double)] = [
            ("Ki", 0x1p10), ("Mi", 0x1p20), ("Gi", 0x1p30), ("Ti", 0x1p40), ("Pi", 0x1p50), ("Ei", 0x1p60),
            ("k", 1e3), ("M", 1e6), ("G", 1e9), ("T", 1e12), ("P", 1e15), ("E", 1e18),
        ]
        for (suffix, factor) in suffixes where text.hasSuffix(suffix) {
            return Double(text.dropLast(suffix.count)).map { $0 * factor }
        }
        return Double(text)
    }
}
