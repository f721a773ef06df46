import FerryKube

/// kube-apiserver's DefaultStorageClass admission plugin: a claim created without
/// `spec.storageClassName` gets the name of the default StorageClass (annotated
/// `storageclass.kubernetes.io/is-default-class: "true"`; of several, the newest, then the
/// first by name). A claim that names a class, or "" (no class), is left as it is.
extension APIServerState {
    static let defaultClassAnnotation = "storageclass.kubernetes.io/is-default-class"
    static let storageClassesKey = StorageKey(group: "storage.k8s.io", resource: "storageclasses")

    func setDefaultStorageClass(_ object: inout JSONValue, entry: ResourceRegistry.Entry) {
        guard entry.storageKey == Self.claimsKey, object["spec"]?["storageClassName"] == nil else { return }
        let defaults = (store[Self.storageClassesKey] ?? [:]).values.filter {
            $0["metadata"]?["annotations"]?[Self.defaultClassAnnotation]?.stringValue == "true"
        }
        let newest = defaults.max { a, b in
            let (createdA, createdB) = (
                a["metadata"]?["creationTimestamp"]?.stringValue ?? "", b["metadata"]?["creationTimestamp"]?.stringValue ?? ""
            )
            if createdA != createdB { return createdA < createdB }
            return (a["metadata"]?["name"]?.stringValue ?? "") > (b["metadata"]?["name"]?.stringValue ?? "")
        }
        guard let name = newest?["metadata"]?["name"] else { return }
        object.setValue(name, at: ["spec", "storageClassName"])
    }
}
