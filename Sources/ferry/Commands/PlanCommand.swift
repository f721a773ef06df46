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

    @OptionGroup var application: ApplicationOptions

    @Flag(help: "Print one JSON object instead of text.")
    var json = false

    func run() async throws {
        let (result, application, scope) = try await self.application.discover()
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
                "hostPaths": .array(
                    volume.hostPaths.map { ["node": .string($0.node), "path": .string($0.path), "kind": .string($0.kind.rawValue)] }),
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
            "issues": .array(
                result.issues.map { ["kind": .string($0.kind.rawValue), "subject": .string($0.subject), "message": .string($0.message)] }),
        ]
    }
}
