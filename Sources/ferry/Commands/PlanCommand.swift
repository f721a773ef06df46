import ArgumentParser
import FerryApps
import FerryKube
import Foundation

/// `ferry plan`: previews what a backup of an application would capture: its components (and
/// why each is included), the restore order, and its volumes with where and how they are read.
struct PlanCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "plan",
        abstract: "Show what belongs to an application and how its volumes would be read.",
        discussion: """
            Exactly one of --helm-release, --operator, --selector, --namespace or --vm names the application. \
            The plan reaches only its own namespace (-n, default: the kubeconfig context's); --all-namespaces \
            makes it cluster-wide. Nothing in the cluster is changed.
            """)

    @Option(help: ArgumentHelp("Kubeconfig file (default: KUBECONFIG, ~/.kube/config, or the pod's service account).", valueName: "file"))
    var kubeconfig: String?

    @Option(help: ArgumentHelp("Kubeconfig context (default: the current context).", valueName: "name"))
    var context: String?

    @Option(name: .customShort("n"), help: ArgumentHelp("The plan's namespace.", valueName: "namespace"))
    var planNamespace: String?

    @Flag(name: [.customShort("A"), .long], help: "Cluster-wide plan: search every namespace.")
    var allNamespaces = false

    @Option(help: ArgumentHelp("A Helm release.", valueName: "name"))
    var helmRelease: String?

    @Option(name: .customLong("operator"), help: ArgumentHelp("An operator: OLM Subscription, ClusterServiceVersion, Helm release or Deployment name.", valueName: "name"))
    var operatorName: String?

    @Option(name: .customLong("custom-resource"), help: ArgumentHelp("With --operator: a custom resource kind to capture (Kind.group; repeatable; default all).", valueName: "kind"))
    var customResources: [String] = []

    @Option(help: ArgumentHelp("A label selector (app=web,tier in (a,b),!legacy).", valueName: "selector"))
    var selector: String?

    @Option(name: .customLong("namespace"), help: ArgumentHelp("Everything in a namespace.", valueName: "namespace"))
    var wholeNamespace: String?

    @Option(name: .customLong("vm"), help: ArgumentHelp("A KubeVirt VirtualMachine.", valueName: "name"))
    var virtualMachine: String?

    @Flag(help: "Print one JSON object instead of text.")
    var json = false

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

    func run() async throws {
        let client = try KubeClient.fromEnvironment(kubeconfig: kubeconfig, context: context)
        let scope: DiscoveryScope = allNamespaces
            ? .cluster(namespaces: nil) : .namespace(planNamespace ?? wholeNamespace ?? client.configuration.namespace)
        let application = try selectedApplication()
        let result = try await ApplicationDiscovery(api: client).discover(application, scope: scope)
        if json {
            Terminal.output(PlanReport.json(result).serializedString())
        } else if !result.components.isEmpty {
            PlanReport.print(result)
        }
        if result.components.isEmpty {
            let why = result.issues.map(\.description).joined(separator: "; ")
            throw PlanError.nothingFound("\(application) has no components in \(scope)\(why.isEmpty ? "" : ": \(why)")")
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
        let kinds: Set<GroupKind>? = customResources.isEmpty ? nil : Set(customResources.map { text in
            guard let dot = text.firstIndex(of: ".") else { return GroupKind(group: "", kind: text) }
            return GroupKind(group: String(text[text.index(after: dot)...]), kind: String(text[..<dot]))
        })
        return .operator(OperatorReference(.named(operatorName ?? ""), customResources: kinds))
    }
}

enum PlanError: Error, CustomStringConvertible {
    case nothingFound(String)

    var description: String {
        switch self {
        case .nothingFound(let message): return message
        }
    }
}

/// Renders a discovery result for people (text) or programs (JSON). Object contents are never
/// printed: Secrets stay secret.
enum PlanReport {
    static func print(_ result: DiscoveryResult) {
        Terminal.output("\(result.selector) in \(result.scope): \(result.components.count) components, \(result.volumes.count) volumes")
        Terminal.output("")
        Terminal.output("Restore order:")
        for (index, step) in result.restorePlan.enumerated() {
            Terminal.output("  \(index + 1). \(step.phase)")
            for component in step.components {
                Terminal.output("     \(component.reference)")
                for reason in component.reasons.sorted() { Terminal.output("         \(reason)") }
            }
        }
        if !result.volumes.isEmpty {
            Terminal.output("")
            Terminal.output("Volumes:")
            for volume in result.volumes {
                let size = volume.sizeBytes.map { Format.bytes($0) } ?? volume.sizeText ?? "unknown size"
                var line = "  \(volume.claim)  \(size)  \(volume.mode.rawValue)"
                if let storageClass = volume.storageClass { line += "  class \(storageClass)" }
                if let driver = volume.csiDriver { line += "  CSI \(driver)" }
                if !volume.nodes.isEmpty { line += "  node \(volume.nodes.joined(separator: ","))" }
                Terminal.output(line)
                Terminal.output("      read: \(volume.readMethod)")
                for path in volume.hostPaths { Terminal.output("      \(path.kind.rawValue): \(path.node):\(path.path)") }
            }
        }
        if !result.dropped.isEmpty {
            Terminal.output("")
            Terminal.output("Left out:")
            for dropped in result.dropped { Terminal.output("  \(dropped.reference): \(dropped.why)") }
        }
        for issue in result.issues { Terminal.error("warning: \(issue)") }
    }

    static func json(_ result: DiscoveryResult) -> JSONValue {
        func reference(_ r: ObjectReference) -> JSONValue {
            var value: JSONValue = ["group": .string(r.group), "kind": .string(r.kind), "name": .string(r.name)]
            if let namespace = r.namespace { value["namespace"] = .string(namespace) }
            return value
        }
        var phases: [ObjectReference: String] = [:]
        for step in result.restorePlan {
            for component in step.components { phases[component.reference] = "\(step.phase)" }
        }
        let components: [JSONValue] = result.components.map { component in
            var value = reference(component.reference)
            value["apiVersion"] = .string(component.apiVersion)
            value["resource"] = .string(component.resource)
            value["reasons"] = .array(component.reasons.map(\.description).sorted().map { .string($0) })
            value["restorePhase"] = .string(phases[component.reference] ?? "")
            return value
        }
        let volumes: [JSONValue] = result.volumes.map { volume in
            var value: JSONValue = [
                "claim": reference(volume.claim), "mode": .string(volume.mode.rawValue),
                "nodes": .array(volume.nodes.map { .string($0) }), "read": .string(volume.readMethod.description),
                "hostPaths": .array(volume.hostPaths.map { ["node": .string($0.node), "path": .string($0.path), "kind": .string($0.kind.rawValue)] }),
                "usedBy": .array(volume.usedBy.map(reference)),
            ]
            if let bytes = volume.sizeBytes { value["sizeBytes"] = .int(bytes) }
            if let name = volume.volumeName { value["volume"] = .string(name) }
            if let storageClass = volume.storageClass { value["storageClass"] = .string(storageClass) }
            if let driver = volume.csiDriver { value["csiDriver"] = .string(driver) }
            if let snapshotClass = volume.snapshotClass { value["snapshotClass"] = .string(snapshotClass) }
            return value
        }
        return [
            "application": .string(result.selector.description), "scope": .string(result.scope.description),
            "components": .array(components), "volumes": .array(volumes),
            "restoreOrder": .array(result.restorePlan.map { .string("\($0.phase)") }),
            "dropped": .array(result.dropped.map { ["object": reference($0.reference), "why": .string($0.why)] }),
            "issues": .array(result.issues.map { ["kind": .string($0.kind.rawValue), "subject": .string($0.subject), "message": .string($0.message)] }),
        ]
    }
}
