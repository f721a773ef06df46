import FerryKube

/// Everything discovery found for an application: the components with their reasons, the
/// volumes and how to read them, what was left out, and what could not be done.
public struct DiscoveryResult: Sendable {
    public var selector: ApplicationSelector
    public var scope: DiscoveryScope
    /// Sorted by reference.
    public var components: [Component]
    /// Sorted by claim.
    public var volumes: [VolumeFacts]
    public var dropped: [DroppedObject]
    public var issues: [DiscoveryIssue]

    public func component(_ reference: ObjectReference) -> Component? {
        components.first { $0.reference == reference }
    }

    /// The components grouped in restore order (DESIGN §5).
    public var restorePlan: [RestoreOrder.Step] { RestoreOrder.steps(for: components) }
}
