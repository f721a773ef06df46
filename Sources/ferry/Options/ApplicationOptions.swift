import ArgumentParser
import FerryApps
import FerryKube

/// Names an application (exactly one of --helm-release, --operator, --selector, --namespace,
/// --vm) and the namespaces discovery may reach; shared by `plan` and `app backup`.
struct ApplicationOptions: ParsableArguments {
    @OptionGroup var kube: KubeOptions

    @Option(
        name: .customShort("n"),
        help: ArgumentHelp("The application's namespace: discovery reaches only this one (default: the context's).", valueName: "namespace")
    )
    var planNamespace: String?

    @Flag(name: [.customShort("A"), .long], help: "Cluster-wide: discovery may reach every namespace.")
    var allNamespaces = false

    @Option(help: ArgumentHelp("A Helm release.", valueName: "name"))
    var helmRelease: String?

    @Option(
        name: .customLong("operator"),
        help: ArgumentHelp("An operator: OLM Subscription, ClusterServiceVersion, Helm release or Deployment name.", valueName: "name"))
    var operatorName: String?

    @Option(
        name: .customLong("custom-resource"),
        help: ArgumentHelp("With --operator: a custom resource kind to capture (Kind.group; repeatable; default all).", valueName: "kind"))
    var customResources: [String] = []

    @Option(help: ArgumentHelp("A label selector (app=web,tier in (a,b),!legacy).", valueName: "selector"))
    var selector: String?

    @Option(name: .customLong("namespace"), help: ArgumentHelp("Everything in a namespace.", valueName: "namespace"))
    var wholeNamespace: String?

    @Option(name: .customLong("vm"), help: ArgumentHelp("A KubeVirt VirtualMachine.", valueName: "name"))
    var virtualMachine: String?

    func validate() throws {
        let chosen = [helmRelease, operatorName, selector, wholeNamespace, virtualMachine].compactMap { $0 }
        guard chosen.count == 1 else {
            throw ValidationError("name the application with exactly one of --helm-release, --operator, --selector, --namespace, --vm")
        }
        if !customResources.isEmpty && operatorName == nil {
            throw ValidationError("--custom-resource only applies to --operator")
        }
        if allNamespaces && planNamespace != nil {
            throw ValidationError("-n and --all-namespaces exclude each other")
        }
    }

    func selectedApplication() throws -> ApplicationSelector {
        if let helmRelease { return .helmRelease(name: helmRelease) }
        if let wholeNamespace { return .namespace(wholeNamespace) }
        if let virtualMachine { return .virtualMachine(name: virtualMachine) }
        if let selector {
            do {
                return .labelSelector(try LabelSelector(parsing: selector))
            } catch {
                throw ValidationError("--selector: \(error)")
            }
        }
        let kinds: Set<GroupKind>? = customResources.isEmpty ? nil : Set(customResources.map(GroupKind.init(dotted:)))
        return .operator(OperatorReference(.named(operatorName ?? ""), customResources: kinds))
    }

    /// A short name for snapshots of the application (`helm:web@shop`).
    func snapshotName(scope: DiscoveryScope) throws -> String {
        let base: String
        switch try selectedApplication() {
        case .helmRelease(let name): base = "helm:\(name)"
        case .operator(let reference): base = "operator:\(reference)"
        case .labelSelector(let selector): base = "selector:\(selector)"
        case .namespace(let name): return "namespace:\(name)"
        case .virtualMachine(let name): base = "vm:\(name)"
        }
        if case .namespace(let namespace) = scope { return "\(base)@\(namespace)" }
        return base
    }

    /// Runs discovery of the named application in its scope.
    func discover() async throws -> (DiscoveryResult, ApplicationSelector, DiscoveryScope) {
        let client = try kube.client()
        let scope: DiscoveryScope =
            allNamespaces
            ? .cluster(namespaces: nil) : .namespace(planNamespace ?? wholeNamespace ?? client.configuration.namespace)
        let application = try selectedApplication()
        return (try await ApplicationDiscovery(api: client).discover(application, scope: scope), application, scope)
    }
}
