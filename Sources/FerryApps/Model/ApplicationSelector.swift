import FerryKube

/// What makes up an application: the starting point of discovery.
public enum ApplicationSelector: Sendable, Hashable, CustomStringConvertible {
    case helmRelease(name: String)
    case `operator`(OperatorReference)
    case labelSelector(LabelSelector)
    /// Everything in a namespace.
    case namespace(String)
    case virtualMachine(name: String)

    public var description: String {
        switch self {
        case .helmRelease(let name): return "Helm release \(name)"
        case .operator(let reference): return "operator \(reference)"
        case .labelSelector(let selector): return "label selector \(selector.isEverything ? "(everything)" : selector.description)"
        case .namespace(let name): return "namespace \(name)"
        case .virtualMachine(let name): return "VirtualMachine \(name)"
        }
    }
}

/// How an operator is identified (design §5 `operators:` entries).
public struct OperatorReference: Sendable, Hashable, CustomStringConvertible {
    public enum Installation: Sendable, Hashable {
        /// An OLM Subscription of this name.
        case subscription(String)
        /// A Helm release that installed the operator.
        case helmRelease(String)
        /// A plain Deployment running the operator.
        case deployment(String)
        /// Whichever of the above exists with this name (Subscription, then ClusterServiceVersion,
        /// then Helm release, then Deployment).
        case named(String)
    }

    public var installation: Installation
    /// The custom resource kinds to capture; nil captures every kind the operator owns.
    public var customResources: Set<GroupKind>?

    public init(_ installation: Installation, customResources: Set<GroupKind>? = nil) {
        self.installation = installation
        self.customResources = customResources
    }

    public var description: String {
        switch installation {
        case .subscription(let name): return "Subscription \(name)"
        case .helmRelease(let name): return "Helm release \(name)"
        case .deployment(let name): return "Deployment \(name)"
        case .named(let name): return name
        }
    }
}

/// Which namespaces discovery may reach (design §5): a namespaced plan only its own namespace;
/// a cluster-scoped plan several namespaces or all of them.
public enum DiscoveryScope: Sendable, Hashable, CustomStringConvertible {
    case namespace(String)
    /// nil: every namespace.
    case cluster(namespaces: Set<String>?)

    public func allows(namespace: String?) -> Bool {
        guard let namespace else { return true }
        switch self {
        case .namespace(let own): return namespace == own
        case .cluster(let namespaces): return namespaces?.contains(namespace) ?? true
        }
    }

    /// The namespace to search when the selector names none: the plan's own, or nil for all.
    public var homeNamespace: String? {
        if case .namespace(let own) = self { return own }
        if case .cluster(let namespaces?) = self, namespaces.count == 1 { return namespaces.first }
        return nil
    }

    public var description: String {
        switch self {
        case .namespace(let name): return "namespace \(name)"
        case .cluster(let namespaces?): return "namespaces \(namespaces.sorted().joined(separator: ", "))"
        case .cluster(nil): return "the whole cluster"
        }
    }
}
