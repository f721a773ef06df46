import FerryAPI
import FerryKube
import FerryRepo

/// Whose exposure objects (VolumeSnapshots, claims and pause pods) these are: a Backup or a
/// Restore. Its label value and name prefix keep the objects of a namespaced Backup apart from
/// those of a cluster-wide one of the same name, which makes them in other namespaces: object
/// names contain no `_` and never start `ferryc-` the way ours do.
struct ExposureOwner: Sendable {
    /// The `ferry.dev/exposes` label value.
    var label: String
    /// Exposure objects are named `<prefix>-<n>`.
    var prefix: String
    /// The Backup or Restore, for messages and to see whether it still runs.
    var namespace: String
    var name: String

    init(_ object: KubeObject, clusterWide: Bool = false) {
        namespace = object.namespace ?? ""
        name = object.name
        if clusterWide {
            let token = "\(namespace)_\(name)"
            label = token.count <= 63 ? token : "_" + String(Digest.sha256(Array(token.utf8)).hex.prefix(40))
            prefix = "ferryc-\(name)"
        } else {
            label = name
            prefix = "ferry-\(name)"
        }
    }

    /// The name of the objects exposing volume `index`.
    func name(_ index: Int) -> String { "\(prefix)-\(index)" }

    var description: String { "\(namespace)/\(name)" }
}
