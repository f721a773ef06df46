/// The fields of a PersistentVolume that Ferry reads: size, mode, class, and where the data is
/// (CSI driver and handle, local or hostPath path, the nodes it is pinned to).
public struct PersistentVolumeView: Sendable {
    public let object: KubeObject

    public init?(_ object: KubeObject) {
        guard object.kind == "PersistentVolume", object.groupVersion.group.isEmpty else { return nil }
        self.object = object
    }

    public var capacity: String? { object["spec"]?["capacity"]?["storage"]?.stringValue }
    public var volumeMode: String? { object["spec"]?["volumeMode"]?.stringValue }
    public var storageClassName: String? { object["spec"]?["storageClassName"]?.stringValue.flatMap { $0.isEmpty ? nil : $0 } }
    public var csiDriver: String? { object["spec"]?["csi"]?["driver"]?.stringValue }
    public var csiVolumeHandle: String? { object["spec"]?["csi"]?["volumeHandle"]?.stringValue }
    public var localPath: String? { object["spec"]?["local"]?["path"]?.stringValue }
    public var hostPath: String? { object["spec"]?["hostPath"]?["path"]?.stringValue }
    /// The claim its claimRef reserves it for (`namespace/name`), nil when none.
    public var reservedFor: String? {
        guard let reference = object["spec"]?["claimRef"], let name = reference["name"]?.stringValue else { return nil }
        return "\(reference["namespace"]?.stringValue ?? "")/\(name)"
    }

    /// Node names its required node affinity pins it to (`kubernetes.io/hostname In [...]`).
    public var affinityHostnames: [String] {
        var names: [String] = []
        for term in object["spec"]?["nodeAffinity"]?["required"]?["nodeSelectorTerms"]?.arrayValue ?? [] {
            for expression in term["matchExpressions"]?.arrayValue ?? []
            where expression["key"]?.stringValue == "kubernetes.io/hostname" && expression["operator"]?.stringValue == "In" {
                names += (expression["values"]?.arrayValue ?? []).compactMap(\.stringValue)
            }
        }
        return names
    }
}
