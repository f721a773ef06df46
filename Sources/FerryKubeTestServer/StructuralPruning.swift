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
