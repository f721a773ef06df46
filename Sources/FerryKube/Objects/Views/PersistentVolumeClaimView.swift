/// The fields of a PersistentVolumeClaim that Ferry reads.
public struct PersistentVolumeClaimView: Sendable {
    public let object: KubeObject

    /// Nil unless `object` is a core/v1 PersistentVolumeClaim.
    public init?(_ object: KubeObject) {
        guard object.kind == "PersistentVolumeClaim", object.groupVersion.group.isEmpty else { return nil }
        self.object = object
    }

    /// The bound PersistentVolume, when the claim is bound.
    public var volumeName: String? { object["spec"]?["volumeName"]?.stringValue.flatMap { $0.isEmpty ? nil : $0 } }
    public var storageClassName: String? { object["spec"]?["storageClassName"]?.stringValue.flatMap { $0.isEmpty ? nil : $0 } }
    /// `Filesystem` (the default) or `Block`.
    public var volumeMode: String { object["spec"]?["volumeMode"]?.stringValue ?? "Filesystem" }
    public var requestedStorage: String? { object["spec"]?["resources"]?["requests"]?["storage"]?.stringValue }
    /// The bound capacity (status), which may exceed the request.
    public var capacity: String? { object["status"]?["capacity"]?["storage"]?.stringValue }
    public var phase: String? { object["status"]?["phase"]?.stringValue }
}
