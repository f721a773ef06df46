import FerryKube

/// Changes a Restore makes to the captured objects before it creates them: JSON patches on the
/// objects a pattern matches, storage classes renamed, and new values for Helm releases. They are
/// worked out for every object before the first one is created: a patch that does not apply fails
/// the Restore with nothing restored.
public struct RestoreTransforms: Codable, Sendable, Equatable {
    /// Applied in order to the objects each one matches, as captured (before namespaces are
    /// mapped; `match.namespace` is the backed-up namespace).
    public var patches: [ObjectPatch]?
    /// Backed-up StorageClass name → the class to use: on claims, PersistentVolumes, StatefulSet
    /// volumeClaimTemplates, DataVolumes and VirtualMachine dataVolumeTemplates.
    public var storageClassMapping: [String: String]?
    /// Helm release name → the values the release was installed with, replacing the recorded
    /// ones in its latest revision's record (what `helm get values` shows, and what `helm upgrade
    /// --reuse-values` renders with). The restored objects are as captured: patch them to match.
    public var helmValues: [String: JSONValue]?

    public init(patches: [ObjectPatch]? = nil, storageClassMapping: [String: String]? = nil, helmValues: [String: JSONValue]? = nil) {
        self.patches = patches
        self.storageClassMapping = storageClassMapping
        self.helmValues = helmValues
    }

    /// Whether it changes nothing.
    public var isEmpty: Bool { (patches ?? []).isEmpty && (storageClassMapping ?? [:]).isEmpty && (helmValues ?? [:]).isEmpty }
}
