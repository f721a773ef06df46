import FerryKube

/// Everything discovery found for an application: the components with their reasons, the
/// volumes and how to read them, what was left out, and what could not be done.
public struct DiscoveryResult: Sendable {
    /// The first (usually the only) selector.
    public var selector: ApplicationSelector { selectors[0] }
    /// Every selector the application was discovered from.
    public var selectors: [ApplicationSelector]
    public var scope: DiscoveryScope
    /// Sorted by reference.
    public var components: [Component]
    /// Sorted by claim.
    public var volumes: [VolumeFacts]
    public var dropped: [DroppedObject]
    public var issues: [DiscoveryIssue]

    /// The selectors in words ("Helm release web, VirtualMachine db").
    public var application: String { selectors.map(\.description).joined(separator: ", ") }

    public func component(_ reference: ObjectReference) -> Component? {
        components.first { $0.reference == reference }
    }

    /// The components grouped in restore order (design §5).
    public var restorePlan: [RestoreOrder.Step] { RestoreOrder.steps(for: components) }
}
