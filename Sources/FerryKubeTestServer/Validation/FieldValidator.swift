import FerryKube

/// The unknown and duplicate fields of a request body, found and named as kube-apiserver's
/// decoders find and name them: for built-in kinds the strict JSON decoder (sigs.k8s.io/json)
/// walking the kind's Go type, in document order (`unknown field "spec.x"`, `duplicate field
/// "spec.y"`, list elements as `spec.containers[0]`); for custom resources duplicates from the
/// decoder, then the paths structural pruning drops (sorted), then unknown metadata fields; for
/// server-side apply the paths structured-merge-diff cannot place (`.spec.x`, keyed list
/// elements as `[name="c"]`). The Go types are read from the OpenAPI definitions: a schema with
/// properties is a struct, one with additionalProperties a map, one with neither takes anything.
struct FieldValidator {
    let definitions: OpenAPIDefinitions

    static let objectMeta = "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"

    func reference(_ name: String) -> JSONValue { ["$ref": .string(OpenAPIDefinitions.referencePrefix + name)] }

    // MARK: - Strict decoding

    /// Unknown and duplicate fields of an object of a built-in kind (its definition's name).
    func builtinProblems(_ document: OrderedJSON, definition: String) -> [String] {
        var problems: [String] = []
        walk(document, reference(definition), path: "", duplicates: true, into: &problems)
        return problems
    }

    /// Duplicates, then fields the structural schema prunes, then unknown metadata fields.
    func customProblems(_ document: OrderedJSON, object: JSONValue, schema: JSONValue) -> [String] {
        var problems = duplicates(document)
        problems += StructuralPruning.unknownFields(object, schema: schema).sorted().map { "unknown field \"\($0)\"" }
        if case .object(let members) = document, let metadata = members.last(where: { $0.name == "metadata" }) {
            var unknown: [String] = []
            walk(metadata.value, reference(Self.objectMeta), path: "metadata", duplicates: false, into: &unknown)
            problems += unknown
        }
        return problems
    }

    /// Names given twice in one object, anywhere in the document.
    func duplicates(_ document: OrderedJSON, path: String = "") -> [String] {
        var problems: [String] = []
        switch document {
        case .object(let members):
            var seen: Set<String> = []
            for member in members {
                let memberPath = Self.join(path, member.name)
                if !seen.insert(member.name).inserted { problems.append("duplicate field \"\(memberPath)\"") }
                problems += duplicates(member.value, path: memberPath)
            }
        case .array(let items):
            for (index, item) in items.enumerated() { problems += duplicates(item, path: "\(path)[\(index)]") }
        case .scalar:
            break
        }
        return problems
    }

    static func join(_ path: String, _ name: String) -> String { path.isEmpty ? name : "\(path).\(name)" }

    private func walk(_ node: OrderedJSON, _ schema: JSONValue, path: String, duplicates: Bool, into problems: inout [String]) {
        let schema = definitions.resolve(schema)
        switch node {
        case .object(let members):
            let properties = schema["properties"]?.objectValue
            let additional = schema["additionalProperties"]
            guard properties != nil || additional?.objectValue != nil else { return }
            var seen: Set<String> = []
            for member in members {
                let memberPath = Self.join(path, member.name)
                guard let field = properties?[member.name] ?? additional?.objectValue.map(JSONValue.object) else {
                    problems.append("unknown field \"\(memberPath)\"")
                    continue
                }
                if duplicates && !seen.insert(member.name).inserted { problems.append("duplicate field \"\(memberPath)\"") }
                walk(member.value, field, path: memberPath, duplicates: duplicates, into: &problems)
            }
        case .array(let items):
            guard let itemSchema = schema["items"] else { return }
            for (index, item) in items.enumerated() {
                walk(item, itemSchema, path: "\(path)[\(index)]", duplicates: duplicates, into: &problems)
            }
        case .scalar:
            break
        }
    }

    /// Drops what the Go type has no field for, as decoding a built-in kind does.
    func prune(_ object: inout JSONValue, definition: String) {
        prune(&object, reference(definition))
    }

    private func prune(_ value: inout JSONValue, _ schema: JSONValue) {
        let schema = definitions.resolve(schema)
        switch value {
        case .object(var members):
            let properties = schema["properties"]?.objectValue
            let additional = schema["additionalProperties"]?.objectValue.map(JSONValue.object)
            guard properties != nil || additional != nil else { return }
            for name in Array(members.keys) {
                if let field = properties?[name] ?? additional {
                    prune(&members[name]!, field)
                } else {
                    members[name] = nil
                }
            }
            value = .object(members)
        case .array(var items):
            guard let itemSchema = schema["items"] else { return }
            for index in items.indices { prune(&items[index], itemSchema) }
            value = .array(items)
        default:
            break
        }
    }

    // MARK: - Server-side apply

    /// The paths structured-merge-diff reports as `field not declared in schema`, sorted.
    func undeclaredFields(_ object: JSONValue, definition: String?, customSchema: JSONValue?) -> [String] {
        var found: [String] = []
        guard case .object(let members) = object else { return [] }
        for (name, value) in members {
            let field: JSONValue?
            if name == "metadata" {
                field = reference(Self.objectMeta)
            } else if let definition {
                field = definitions.resolve(reference(definition))["properties"]?[name]
            } else if let customSchema {
                field = ["apiVersion", "kind"].contains(name) ? ["type": "string"] : customSchema["properties"]?[name]
                if field == nil && customSchema["x-kubernetes-preserve-unknown-fields"]?.boolValue == true { continue }
            } else {
                continue
            }
            guard let field else {
                found.append(".\(name)")
                continue
            }
            undeclared(value, field, path: ".\(name)", structural: definition == nil && name != "metadata", into: &found)
        }
        return found.sorted()
    }

    private func undeclared(_ value: JSONValue, _ schema: JSONValue, path: String, structural: Bool, into found: inout [String]) {
        let schema = definitions.resolve(schema)
        switch value {
        case .object(let members):
            let properties = schema["properties"]?.objectValue
            let additional = schema["additionalProperties"]?.objectValue.map(JSONValue.object)
            let open =
                schema["x-kubernetes-preserve-unknown-fields"]?.boolValue == true
                || schema["additionalProperties"]?.boolValue == true
                || (!structural && properties == nil && additional == nil)
            for (name, member) in members {
                if let field = properties?[name] ?? additional {
                    undeclared(member, field, path: "\(path).\(name)", structural: structural, into: &found)
                } else if !open {
                    found.append("\(path).\(name)")
                }
            }
        case .array(let items):
            guard let itemSchema = schema["items"] else { return }
            for (index, item) in items.enumerated() {
                let element = path + Self.listElement(item, index: index, list: schema)
                undeclared(item, itemSchema, path: element, structural: structural, into: &found)
            }
        default:
            break
        }
    }

    /// `[name="c"]` for an element of a keyed list (list-type map, or a merge patch strategy
    /// with a merge key), `[0]` otherwise.
    static func listElement(_ item: JSONValue, index: Int, list: JSONValue) -> String {
        var keys = (list["x-kubernetes-list-map-keys"]?.arrayValue ?? []).compactMap(\.stringValue)
        if keys.isEmpty, list["x-kubernetes-list-type"] == nil,
            list["x-kubernetes-patch-strategy"]?.stringValue?.contains("merge") == true,
            let key = list["x-kubernetes-patch-merge-key"]?.stringValue
        {
            keys = [key]
        }
        let values = keys.compactMap { key in item[key].map { "\(key)=\(String(decoding: $0.serialized(), as: UTF8.self))" } }
        guard !keys.isEmpty, values.count == keys.count else { return "[\(index)]" }
        return "[\(values.joined(separator: ","))]"
    }
}
