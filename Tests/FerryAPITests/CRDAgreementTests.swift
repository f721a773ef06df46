import FerryAPI
import FerryKube
import FerryRepo
import Foundation
import Testing

/// The typed kinds and the chart's CRDs describe the same fields: everything a type writes is in
/// the CRD's schema (a real API server prunes what is not, so it would be lost), and every field
/// the schema declares is read by the type. Each kind is checked with an example that sets every
/// optional field (checked too), so a field added on one side only fails here.
@Suite struct CRDAgreementTests {
    static let crds = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("charts/ferry/crds")

    @Test(arguments: FerryKind.allCases)
    func typeAndSchemaDeclareTheSameFields(kind: FerryKind) throws {
        let schema = try Self.schema(of: kind)
        let (spec, status) = try Self.example(kind)
        for (part, value) in [("spec", spec), ("status", status)] {
            let declared = Self.paths(schema: schema["properties"]?[part] ?? .null, at: part)
            let written = Self.paths(value: value, at: part)
            #expect(written.subtracting(declared.all).isEmpty, "\(kind) writes fields its CRD does not declare (pruned on a real server)")
            #expect(
                declared.all.subtracting(written).subtracting(declared.open).isEmpty, "\(kind)'s CRD declares fields the type does not read"
            )
        }
    }

    @Test(arguments: FerryKind.allCases)
    func examplesSetEveryField(kind: FerryKind) throws {
        let (spec, status) = try Self.exampleValues(kind)
        // A namespaced BackupPlan has no namespaces of its own.
        let clusterOnly: Set<String> = kind == .backupPlan ? ["spec.namespaces", "spec.namespaceSelector"] : []
        let unsetSpec = Self.unset(spec, at: "spec").filter { !clusterOnly.contains($0) }
        #expect(unsetSpec.isEmpty, "the example leaves fields unset: \(unsetSpec)")
        #expect(Self.unset(status, at: "status").isEmpty, "the example leaves fields unset: \(Self.unset(status, at: "status"))")
    }

    @Test(arguments: FerryKind.allCases)
    func phaseEnumsMatchTheSchema(kind: FerryKind) throws {
        let status = try Self.schema(of: kind)["properties"]?["status"]?["properties"]
        guard let phase = status?["phase"] else { return }
        let allowed = Set((phase["enum"]?.arrayValue ?? []).compactMap(\.stringValue))
        let expected: Set<String> =
            switch kind {
            case .backup, .restore: Set(JobPhase.allCases.map(\.rawValue))
            case .volumeTransfer: Set(UnitPhase.allCases.map(\.rawValue))
            case .target: Set(TargetPhase.allCases.map(\.rawValue))
            default: []
            }
        #expect(allowed == expected)
    }

    /// The openAPIV3Schema of the kind's CRD in the chart.
    static func schema(of kind: FerryKind) throws -> JSONValue {
        let text = try String(contentsOf: crds.appendingPathComponent("ferry.dev_\(kind.plural).yaml"), encoding: .utf8)
        let crd = try #require(try YAMLDocuments.parse(text).first)
        #expect(crd["spec"]?["names"]?["kind"]?.stringValue == kind.rawValue)
        return try #require(crd["spec"]?["versions"]?[0]?["schema"]?["openAPIV3Schema"])
    }

    /// Field paths a schema declares (`[]` for list items, `{}` for map values); `open` holds the
    /// paths below which anything goes (preserve-unknown-fields).
    static func paths(schema: JSONValue, at path: String) -> (all: Set<String>, open: Set<String>) {
        var all: Set<String> = [path]
        var open: Set<String> = []
        if schema["x-kubernetes-preserve-unknown-fields"]?.boolValue == true { open.insert(path) }
        for (name, child) in schema["properties"]?.objectValue ?? [:] {
            let sub = paths(schema: child, at: "\(path).\(name)")
            all.formUnion(sub.all)
            open.formUnion(sub.open)
        }
        if let items = schema["items"] {
            let sub = paths(schema: items, at: "\(path)[]")
            all.formUnion(sub.all)
            open.formUnion(sub.open)
        }
        if let values = schema["additionalProperties"], values.objectValue != nil {
            let sub = paths(schema: values, at: "\(path){}")
            all.formUnion(sub.all)
            open.formUnion(sub.open)
        }
        return (all, open)
    }

    /// Field paths of an encoded value; below an open path (the unit's manifest entry, values
    /// of any shape) nothing is listed.
    static func paths(
        value: JSONValue, at path: String,
        mapAt maps: Set<String> = [
            "spec.namespaceMapping", "status.result",
            "spec.components.labelSelector.matchLabels", "spec.namespaceSelector.matchLabels",
            "spec.include.labelSelector.matchLabels", "spec.exclude.labelSelector.matchLabels",
            "spec.transforms.storageClassMapping", "spec.transforms.helmValues",
            "spec.hooks.pre[].podSelector.matchLabels", "spec.hooks.post[].podSelector.matchLabels",
            "spec.hooks.postRestore[].podSelector.matchLabels",
        ]
    ) -> Set<String> {
        var result: Set<String> = [path]
        let open: Set<String> = ["status.result", "spec.transforms.helmValues{}", "spec.transforms.patches[].patch[].value"]
        if open.contains(path) { return result }
        switch value {
        case .object(let members):
            for (name, child) in members {
                result.formUnion(paths(value: child, at: maps.contains(path) ? "\(path){}" : "\(path).\(name)", mapAt: maps))
            }
        case .array(let elements):
            for element in elements { result.formUnion(paths(value: element, at: "\(path)[]", mapAt: maps)) }
        default:
            break
        }
        return result
    }

    /// Optional fields left nil anywhere in `value`.
    static func unset(_ value: Any, at path: String) -> [String] {
        var missing: [String] = []
        for child in Mirror(reflecting: value).children {
            let name = "\(path).\(child.label ?? "?")"
            let mirror = Mirror(reflecting: child.value)
            if mirror.displayStyle == .optional {
                guard let wrapped = mirror.children.first?.value else {
                    missing.append(name)
                    continue
                }
                missing += unset(wrapped, at: name)
            } else if mirror.displayStyle == .struct {
                missing += unset(child.value, at: name)
            } else if let array = child.value as? [Any] {
                for element in array { missing += unset(element, at: "\(name)[]") }
            }
        }
        return missing
    }

    static func example(_ kind: FerryKind) throws -> (JSONValue, JSONValue) {
        let (spec, status) = try exampleValues(kind)
        return (try JSONValue(encoding: AnyEncodable(spec)), try JSONValue(encoding: AnyEncodable(status)))
    }

    static func exampleValues(_ kind: FerryKind) throws -> (any Encodable, any Encodable) {
        switch kind {
        case .target: return (FerryExamples.targetSpec, FerryExamples.targetStatus)
        case .backupPlan: return (FerryExamples.backupPlanSpec(cluster: false), FerryExamples.backupPlanStatus)
        case .clusterBackupPlan: return (FerryExamples.backupPlanSpec(cluster: true), FerryExamples.backupPlanStatus)
        case .backup: return (FerryExamples.backupSpec, FerryExamples.backupStatus)
        case .restore: return (FerryExamples.restoreSpec, FerryExamples.restoreStatus)
        case .volumeTransfer: return (FerryExamples.volumeTransferSpec, FerryExamples.volumeTransferStatus)
        }
    }
}

struct AnyEncodable: Encodable {
    let value: any Encodable
    init(_ value: any Encodable) { self.value = value }
    func encode(to encoder: any Encoder) throws { try value.encode(to: encoder) }
}
