/// The captured PersistentVolumes a restored claim may stay bound to. A claim keeps its
/// `volumeName` only when its volume will be there *for it*: created by this restore (with its
/// claimRef mapped to the restored claim), or already on the cluster and free or reserved for
/// exactly that claim. A volume that exists bound to another claim, such as the original's
/// when restoring into another namespace while the original runs, is never given to the
/// restored claim: a cluster's volume binder would refuse the binding, and the agent would
/// write the backup over the live volume it names.
struct RestorableVolumes: Sendable, Equatable {
    /// Captured volumes this restore creates (a namespaced restore creates none).
    var created: Set<String> = []
    /// Captured volumes already on the cluster, with the claim (`namespace/name`) their claimRef
    /// reserves them for (`PersistentVolumeView.reservedFor`), "" when free.
    var existing: [String: String] = [:]

    /// Whether the restored claim `namespace/name` keeps its binding to `volume`.
    func keepsBinding(claim: String, to volume: String) -> Bool {
        if created.contains(volume) { return true }
        guard let reservedFor = existing[volume] else { return false }
        return reservedFor.isEmpty || reservedFor == claim
    }
}
