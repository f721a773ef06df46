import FerryKube
import FerryTestSupport

/// A Ferry container's command line and environment as the chart renders them, so that tests
/// start `ferry coordinator` and `ferry agent` with the chart's own arguments (and the chart and
/// the binary cannot drift apart). A test replaces what a test machine must: the kubeconfig
/// instead of the in-cluster token, loopback metrics addresses, the host root and cache paths.
struct ChartCommand: Sendable {
    /// `coordinator` or `agent`, then the chart's flags (`--name=value`).
    var arguments: [String]
    /// Literal environment values.
    var environment: [String: String]
    /// Environment variables the kubelet fills from the pod (`fieldRef.fieldPath`).
    var fieldReferences: [String: String]

    /// The first container of the rendered workload of `kind` whose arguments start with
    /// `subcommand`.
    init(rendered documents: [JSONValue], kind: String, subcommand: String) throws {
        let container = documents.filter { $0["kind"]?.stringValue == kind }
            .compactMap { $0["spec"]?["template"]?["spec"]?["containers"]?[0] }
            .first { $0["args"]?[0]?.stringValue == subcommand }
        guard let container else { throw Missing(kind: kind, subcommand: subcommand) }
        arguments = (container["args"]?.arrayValue ?? []).compactMap(\.stringValue)
        var literal: [String: String] = [:]
        var references: [String: String] = [:]
        for variable in container["env"]?.arrayValue ?? [] {
            guard let name = variable["name"]?.stringValue else { continue }
            if let value = variable["value"]?.stringValue { literal[name] = value }
            if let path = variable["valueFrom"]?["fieldRef"]?["fieldPath"]?.stringValue { references[name] = path }
        }
        environment = literal
        fieldReferences = references
    }

    /// The command line with the test's `arguments` appended; a flag the test gives, or one
    /// named in `dropping`, replaces the chart's.
    func commandLine(_ extra: [String], dropping: Set<String> = []) -> [String] {
        let given = Set(extra.filter { $0.hasPrefix("--") }.map { String($0.split(separator: "=", maxSplits: 1)[0]) })
        let kept = arguments.filter { argument in
            guard argument.hasPrefix("--") else { return true }
            let flag = String(argument.split(separator: "=", maxSplits: 1)[0])
            return !given.contains(flag) && !dropping.contains(flag)
        }
        return kept + extra
    }

    /// The process environment: the chart's values, the pod fields as `fields` gives them
    /// (`metadata.name`, `metadata.namespace`, `spec.nodeName`), then `overrides`.
    func process(password: String? = nil, fields: [String: String], overrides: [String: String] = [:]) -> FerryProcess {
        var ferry = FerryProcess(password: password)
        ferry.environment.merge(podEnvironment(fields: fields, overrides: overrides)) { $1 }
        return ferry
    }

    /// The container's own environment: the chart's values, the pod fields, then `overrides`.
    func podEnvironment(fields: [String: String], overrides: [String: String] = [:]) -> [String: String] {
        var result = environment
        for (name, path) in fieldReferences { result[name] = fields[path] }
        return result.merging(overrides) { $1 }
    }

    struct Missing: Error, CustomStringConvertible {
        var kind: String
        var subcommand: String
        var description: String { "the rendered chart has no \(kind) running `ferry \(subcommand)`" }
    }
}
