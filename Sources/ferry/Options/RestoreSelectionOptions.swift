import ArgumentParser
import FerryAPI
import FerryKube
import FerryRepo
import Foundation

/// What `ferry app restore` restores and how it changes it: the same selection and transforms a
/// Restore's `include`, `exclude` and `transforms` hold.
struct RestoreSelectionOptions: ParsableArguments {
    @Option(
        name: .customLong("component"), parsing: .singleValue,
        help: ArgumentHelp(
            "Only this component and what discovery tied to it: helm:RELEASE, vm:NAME or claim:NAME, optionally @NAMESPACE (repeatable).",
            valueName: "component"))
    var components: [String] = []

    @Option(
        name: .customLong("exclude-component"), parsing: .singleValue,
        help: ArgumentHelp("Not this component (as --component; repeatable).", valueName: "component"))
    var excludedComponents: [String] = []

    @Option(
        name: .customLong("include-kind"), parsing: .singleValue,
        help: ArgumentHelp("Only objects of this kind (Kind or Kind.group; repeatable).", valueName: "kind"))
    var includedKinds: [String] = []

    @Option(
        name: .customLong("exclude-kind"), parsing: .singleValue,
        help: ArgumentHelp("Not objects of this kind (Kind or Kind.group; repeatable).", valueName: "kind"))
    var excludedKinds: [String] = []

    @Option(
        name: .customLong("selector"),
        help: ArgumentHelp("Only objects whose labels match (app=web,tier in (a,b),!legacy).", valueName: "selector"))
    var selector: String?

    @Option(
        name: .customLong("storage-class-mapping"), parsing: .singleValue,
        help: ArgumentHelp("Create claims, volumes and DataVolumes of class OLD with class NEW (repeatable).", valueName: "old=new"))
    var storageClassMapping: [String] = []

    @Option(
        name: .customLong("transform-file"),
        help: ArgumentHelp(
            "A YAML or JSON file of transforms, as a Restore's spec.transforms (patches, storageClassMapping, helmValues).",
            valueName: "path"))
    var transformFile: String?

    func validate() throws {
        _ = try include()
        _ = try exclude()
        _ = try mapping()
    }

    func include() throws -> RestoreSelection? {
        var labels: LabelSelectorSpec?
        if let selector {
            do {
                labels = LabelSelectorSpec(try LabelSelector(parsing: selector))
            } catch {
                throw ValidationError("--selector: \(error)")
            }
            guard labels != nil else { throw ValidationError("--selector: a restore selects by labels without > or <") }
        }
        let selection = RestoreSelection(
            components: try Self.components(components, option: "--component"), objects: try Self.kinds(includedKinds),
            labelSelector: labels)
        return selection.isEmpty ? nil : selection
    }

    func exclude() throws -> RestoreSelection? {
        // A selection names what meets all its criteria; on the command line each exclusion is
        // meant on its own, so excluded components and kinds are not combined.
        let selection = RestoreSelection(
            components: try Self.components(excludedComponents, option: "--exclude-component"), objects: try Self.kinds(excludedKinds))
        guard !selection.isEmpty else { return nil }
        if selection.components != nil, selection.objects != nil {
            throw ValidationError("--exclude-component and --exclude-kind cannot be combined (an object would need to match both)")
        }
        return selection
    }

    func transforms() throws -> RestoreTransforms? {
        var transforms = RestoreTransforms()
        if let transformFile {
            let text: String
            do {
                text = try String(contentsOfFile: transformFile, encoding: .utf8)
            } catch {
                throw CLIError("cannot read --transform-file \(transformFile): \(error.localizedDescription)")
            }
            do {
                let document = try YAMLDocuments.parse(text).first ?? .object([:])
                transforms = try document.decode(RestoreTransforms.self)
            } catch {
                throw CLIError(
                    "--transform-file \(transformFile) is not a transforms object (patches, storageClassMapping, helmValues): \(error)")
            }
        }
        let mapping = try mapping()
        if !mapping.isEmpty { transforms.storageClassMapping = (transforms.storageClassMapping ?? [:]).merging(mapping) { $1 } }
        return transforms.isEmpty ? nil : transforms
    }

    func mapping() throws -> [String: String] {
        var mapping: [String: String] = [:]
        for item in storageClassMapping {
            let parts = item.split(separator: "=", omittingEmptySubsequences: false).map(String.init)
            guard parts.count == 2, !parts[0].isEmpty, !parts[1].isEmpty else {
                throw ValidationError("--storage-class-mapping takes old=new, got \(item)")
            }
            mapping[parts[0]] = parts[1]
        }
        return mapping
    }

    static func components(_ texts: [String], option: String) throws -> [ApplicationComponent]? {
        guard !texts.isEmpty else { return nil }
        return try texts.map { text in
            do {
                return try ApplicationComponent(parsing: text)
            } catch {
                throw ValidationError("\(option): \(error)")
            }
        }
    }

    /// `Deployment` (any group) or `Deployment.apps`.
    static func kinds(_ texts: [String]) throws -> [ObjectPattern]? {
        guard !texts.isEmpty else { return nil }
        return try texts.map { text in
            let parts = text.split(separator: ".", maxSplits: 1).map(String.init)
            guard let kind = parts.first, !kind.isEmpty else { throw ValidationError("a kind is Kind or Kind.group, not \"\(text)\"") }
            return ObjectPattern(kind: kind, group: parts.count == 2 ? parts[1] : nil)
        }
    }
}
