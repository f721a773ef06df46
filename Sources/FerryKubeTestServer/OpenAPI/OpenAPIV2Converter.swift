import FerryKube

/// The server's swagger 2.0 document (`/openapi/v2`), made from its v3 documents as kube-apiserver
/// makes both from one spec: every path with its operations (request bodies become `body`
/// parameters and `consumes`, response content `produces` and a `schema`), and every schema
/// under `definitions` with `$ref`s to `#/definitions/`. A one-element `allOf` around a `$ref`
/// becomes the `$ref` itself (with its description); a `oneOf` of scalars (IntOrString,
/// Quantity) becomes a string. Custom resources' schemas lose what swagger 2.0 and kubectl's
/// validation cannot express, as apiextensions-apiserver's `ToStructuralOpenAPIV2` drops it:
/// `allOf`/`oneOf`/`anyOf`/`not`, properties and items under `x-kubernetes-preserve-unknown-fields`
/// or `nullable` (which also loses its type), and the type of an array left without items.
enum OpenAPIV2Converter {
    static func document(from documents: [JSONValue]) -> JSONValue {
        var paths: [String: JSONValue] = [:]
        var definitions: [String: JSONValue] = [:]
        for document in documents {
            let custom = document["info"]?["title"] == "Kubernetes CRD Swagger"
            for (path, item) in document["paths"]?.objectValue ?? [:] { paths[path] = pathItem(item) }
            for (name, schema) in document["components"]?["schemas"]?.objectValue ?? [:] where definitions[name] == nil {
                let isCustomResource = custom && schema["x-kubernetes-group-version-kind"] != nil && !name.hasPrefix("io.k8s.")
                definitions[name] = self.schema(schema, structural: isCustomResource)
            }
        }
        return [
            "swagger": "2.0",
            "info": ["title": "Kubernetes", "version": "v1.33.0"],
            "paths": .object(paths),
            "definitions": .object(definitions),
            "securityDefinitions": [
                "BearerToken": ["description": "Bearer Token authentication", "in": "header", "name": "authorization", "type": "apiKey"]
            ],
            "security": [["BearerToken": []]],
        ]
    }

    static func pathItem(_ item: JSONValue) -> JSONValue {
        var out: [String: JSONValue] = [:]
        for (key, value) in item.objectValue ?? [:] {
            out[key] = key == "parameters" ? .array((value.arrayValue ?? []).map(parameter)) : operation(value)
        }
        return .object(out)
    }

    static func parameter(_ parameter: JSONValue) -> JSONValue {
        var out = parameter
        out["schema"] = nil
        for (key, value) in parameter["schema"]?.objectValue ?? [:] { out[key] = value }
        return out
    }

    static func operation(_ operation: JSONValue) -> JSONValue {
        var out = operation
        var parameters = (operation["parameters"]?.arrayValue ?? []).map(parameter)
        if let body = operation["requestBody"] {
            let content = body["content"]?.objectValue ?? [:]
            out["consumes"] = .array(content.keys.sorted().map { .string($0) })
            var parameter: JSONValue = [
                "in": "body", "name": "body", "schema": schema(content.values.first?["schema"] ?? [:], structural: false),
            ]
            if body["required"] == true { parameter["required"] = true }
            parameters.insert(parameter, at: 0)
        }
        out["requestBody"] = nil
        out["parameters"] = parameters.isEmpty ? nil : .array(parameters)
        var responses: [String: JSONValue] = [:]
        var produces: Set<String> = []
        for (code, response) in operation["responses"]?.objectValue ?? [:] {
            var converted: JSONValue = ["description": response["description"] ?? ""]
            if let content = response["content"]?.objectValue, let first = content.values.first {
                produces.formUnion(content.keys)
                converted["schema"] = schema(first["schema"] ?? [:], structural: false)
            }
            responses[code] = converted
        }
        out["responses"] = .object(responses)
        if !produces.isEmpty { out["produces"] = .array(produces.sorted().map { .string($0) }) }
        out["schemes"] = ["https"]
        return out
    }

    static func schema(_ schema: JSONValue, structural: Bool) -> JSONValue {
        guard case .object(var members) = schema else { return schema }
        if let all = members["allOf"]?.arrayValue, all.count == 1, let reference = all[0]["$ref"] {
            members["allOf"] = nil
            members["$ref"] = reference
        }
        if let reference = members["$ref"]?.stringValue {
            members["$ref"] = .string(reference.replacingOccurrences(of: "#/components/schemas/", with: "#/definitions/"))
        }
        if members["oneOf"] != nil && !structural {
            members["oneOf"] = nil
            if members["type"] == nil { members["type"] = "string" }
        }
        if structural {
            for key in ["allOf", "oneOf", "anyOf", "not"] { members[key] = nil }
            if members["nullable"]?.boolValue == true {
                members["type"] = nil
                members["properties"] = nil
                members["items"] = nil
            }
            members["nullable"] = nil
            if members["x-kubernetes-preserve-unknown-fields"]?.boolValue == true {
                members["properties"] = nil
                members["items"] = nil
            }
            if members["type"] == "array" && members["items"] == nil { members["type"] = nil }
        }
        if let properties = members["properties"]?.objectValue {
            let childStructural = structural
            members["properties"] = .object(
                properties.mapValues { property in
                    // A custom resource's metadata is ObjectMeta's reference, not structural.
                    self.schema(property, structural: childStructural && property["allOf"] == nil && property["$ref"] == nil)
                })
        }
        if let additional = members["additionalProperties"], additional.objectValue != nil {
            members["additionalProperties"] = self.schema(additional, structural: structural)
        }
        if let items = members["items"] { members["items"] = self.schema(items, structural: structural) }
        return .object(members)
    }
}
