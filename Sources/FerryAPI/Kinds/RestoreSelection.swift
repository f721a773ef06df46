import FerryKube
import FerryRepo

/// Which of a snapshot's objects a Restore's `include` (or `exclude`) names. Every criterion
/// given must hold for an object (any entry of a list will do): `{components: [vm:db], objects:
/// [{kind: Secret}]}` is the Secrets of VirtualMachine db. A Restore restores what `include`
/// names (everything when it is absent) less what `exclude` names, with the captured Namespaces
/// of the restored objects (unless `exclude` names them). A claim's volume data is restored only
/// when its claim is.
public struct RestoreSelection: Codable, Sendable, Equatable {
    /// Named components, each with what discovery tied to it: a Helm release (its objects and
    /// records), a VirtualMachine (its DataVolumes, claims, Secrets, instancetype, preference),
    /// a claim (its volume). Needs a snapshot that recorded components (taken by this Ferry).
    public var components: [ApplicationComponent]?
    /// Objects by kind, and optionally group, namespace (as backed up) and name.
    public var objects: [ObjectPattern]?
    /// Objects whose labels match.
    public var labelSelector: LabelSelectorSpec?

    public init(components: [ApplicationComponent]? = nil, objects: [ObjectPattern]? = nil, labelSelector: LabelSelectorSpec? = nil) {
        self.components = components
        self.objects = objects
        self.labelSelector = labelSelector
    }

    /// Whether it names nothing at all (and so selects every object).
    public var isEmpty: Bool { (components ?? []).isEmpty && (objects ?? []).isEmpty && labelSelector == nil }
}
