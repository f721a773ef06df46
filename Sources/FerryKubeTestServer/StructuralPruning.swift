import FerryKube

/// What kube-apiserver does to custom resources with a structural schema: fields the schema does
/// not specify are dropped ("pruned") when the object is stored, unless the schema says
/// `x-kubernetes-preserve-unknown-fields: true` at that point. apiVersion, kind and metadata are
/// the server's own and never pruned by the schema.
enum StructuralPruning {
    static func prune(_ object: inout JSONValue, schema: JSONValue) {
        guard case .object(var members) = object else { return }
        let kept = ["apiVersion", "kind", "metadata"]
        var root = members.filter { kept.contains($0.key) }
        members = members.filter { !kept.contains($0.key) }
        var rest = JSONValue.object(members)
        prune(&rest, at: schema)
        for (key, value) in rest.objectValue ?? [:] { root[key] = value }
        object = .object(root)
    }

    /// The paths (`spec.components.namespace`, `spec.items[0].x`) of the fields `prune` would
    /// drop: what server-side field validation reports as unknown.
    static func unknownFields(_ object: JSONValue, schema: JSONValue) -> [String] {
        guard case .object(let members) = object else { return [] }
        var found: [String] = []
        for (key, value) in members.sorted(by: { $0.key < $1.key }) where !["apiVersion", "kind", "metadata"].contains(key) {
            if let property = schema["properties"]?[key] {
                unknown(value, at: property, path: key, into: &found)
            } else if schema["x-kubernetes-preserve-unknown-fields"]?.boolValue != true {
                found.append(key)
            }
        }
        return found
    }

    private static func unknown(_ value: JSONValue, at schema: JSONValue, path: String, into found: inout [String]) {
        if schema["x-kubernetes-preserve-unknown-fields"]?.boolValue == true && schema["properties"] == nil { return }
        switch value {
        case .object(let members):
            let additional = schema["additionalProperties"]
            for (key, member) in members.sorted(by: { $0.key < $1.key }) {
                if let property = schema["properties"]?[key] {
                    unknown(member, at: property, path: "\(path).\(key)", into: &found)
                } else if let additional, additional.objectValue != nil {
                    unknown(member, at: additional, path: "\(path).\(key)", into: &found)
                } else if additional?.boolValue != true && schema["x-kubernetes-preserve-unknown-fields"]?.boolValue != true {
                    found.append("\(path).\(key)")
                }
            }
        case .array(let items):
            if let itemSchema = schema["items"] {
                for (index, item) in items.enumerated() { unknown(item, at: itemSchema, path: "\(path)[\(index)]", into: &found) }
            }
        default:
            break
        }
    }

    private static func prune(_ value: inout JSONValue, at schema: JSONValue) {
        if schema["x-kubernetes-preserve-unknown-fields"]?.boolValue == true && schema["properties"] == nil { return }
        switch value {
        case .object(var members):
            let properties = schema["properties"]?.objectValue
            let additional = schema["additionalProperties"]
            for key in Array(members.keys) {
                if let property = properties?[key] {
                    prune(&members[key]!, at: property)
                } else if let additional, additional.objectValue != nil {
                    prune(&members[key]!, at: additional)
                } else if additional?.boolValue == true || schema["x-kubernetes-preserve-unknown-fields"]?.boolValue == true {
                    continue
                } else {
                    members[key] = nil
                }
            }
            value = .object(members)
        case .array(var items):
            if let itemSchema = schema["items"] {
                for index in items.indices { prune(&items[index], at: itemSchema) }
            }
            value = .array(items)
        default:
            break
        }
    }
}
