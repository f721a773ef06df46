import FerryKube

/// A swagger 2.0 document in the protobuf form client-go asks for
/// (`application/com.github.proto-openapi.spec.v2@v1.0+protobuf`): gnostic's `openapi.v2.Document`
/// (field numbers from gnostic's OpenAPIv2.proto). Named maps are repeated (name, value) pairs in
/// name order; vendor extensions, defaults, enums and examples are gnostic `Any`s holding the
/// value's YAML (JSON text, which YAML reads).
enum OpenAPIV2Protobuf {
    static func document(_ swagger: JSONValue) -> [UInt8] {
        var out = ProtobufWriter()
        out.string(1, swagger["swagger"]?.stringValue ?? "2.0")
        out.message(2) { info in
            info.string(1, swagger["info"]?["title"]?.stringValue ?? "")
            info.string(2, swagger["info"]?["version"]?.stringValue ?? "")
        }
        out.message(8) { paths in
            for (name, item) in sorted(swagger["paths"]) {
                paths.message(2) { named in
                    named.string(1, name)
                    named.message(2) { pathItem(&$0, item) }
                }
            }
        }
        out.message(9) { definitions in
            for (name, schema) in sorted(swagger["definitions"]) {
                definitions.message(1) { named in
                    named.string(1, name)
                    named.message(2) { self.schema(&$0, schema) }
                }
            }
        }
        for requirement in swagger["security"]?.arrayValue ?? [] {
            out.message(12) { security in
                for (name, _) in sorted(requirement) {
                    security.message(1) { named in
                        named.string(1, name)
                        named.message(2) { _ in }
                    }
                }
            }
        }
        out.message(13) { definitions in
            for (name, scheme) in sorted(swagger["securityDefinitions"]) {
                definitions.message(1) { named in
                    named.string(1, name)
                    named.message(2) { item in
                        item.message(2) { key in
                            key.string(1, scheme["type"]?.stringValue ?? "")
                            key.string(2, scheme["name"]?.stringValue ?? "")
                            key.string(3, scheme["in"]?.stringValue ?? "")
                            key.string(4, scheme["description"]?.stringValue ?? "")
                        }
                    }
                }
            }
        }
        return out.bytes
    }

    static func sorted(_ value: JSONValue?) -> [(String, JSONValue)] {
        (value?.objectValue ?? [:]).sorted { $0.key < $1.key }.map { ($0.key, $0.value) }
    }

    static func pathItem(_ out: inout ProtobufWriter, _ item: JSONValue) {
        for (field, method) in [(2, "get"), (3, "put"), (4, "post"), (5, "delete"), (8, "patch")] {
            if let operation = item[method] { out.message(field) { self.operation(&$0, operation) } }
        }
        for parameter in item["parameters"]?.arrayValue ?? [] { out.message(9) { self.parameter(&$0, parameter) } }
    }

    static func operation(_ out: inout ProtobufWriter, _ operation: JSONValue) {
        for tag in operation["tags"]?.arrayValue ?? [] { out.string(1, tag.stringValue ?? "") }
        out.string(3, operation["description"]?.stringValue ?? "")
        out.string(5, operation["operationId"]?.stringValue ?? "")
        for type in operation["produces"]?.arrayValue ?? [] { out.string(6, type.stringValue ?? "") }
        for type in operation["consumes"]?.arrayValue ?? [] { out.string(7, type.stringValue ?? "") }
        for parameter in operation["parameters"]?.arrayValue ?? [] { out.message(8) { self.parameter(&$0, parameter) } }
        out.message(9) { responses in
            for (code, response) in sorted(operation["responses"]) {
                responses.message(1) { named in
                    named.string(1, code)
                    named.message(2) { value in
                        value.message(1) { body in
                            body.string(1, response["description"]?.stringValue ?? "")
                            if let schema = response["schema"] { body.message(2) { item in item.message(1) { self.schema(&$0, schema) } } }
                        }
                    }
                }
            }
        }
        for scheme in operation["schemes"]?.arrayValue ?? [] { out.string(10, scheme.stringValue ?? "") }
        extensions(&out, 13, operation)
    }

    /// A body parameter, or a query or path parameter (gnostic's sub-schemas number their
    /// fields differently after `name`).
    static func parameter(_ out: inout ProtobufWriter, _ parameter: JSONValue) {
        out.message(1) { item in
            let place = parameter["in"]?.stringValue ?? ""
            if place == "body" {
                item.message(1) { body in
                    body.string(2, parameter["name"]?.stringValue ?? "")
                    body.string(3, place)
                    body.bool(4, parameter["required"]?.boolValue ?? false)
                    if let schema = parameter["schema"] { body.message(5) { self.schema(&$0, schema) } }
                }
                return
            }
            item.message(2) { nonBody in
                nonBody.message(place == "path" ? 4 : 3) { sub in
                    sub.bool(1, parameter["required"]?.boolValue ?? false)
                    sub.string(2, place)
                    sub.string(3, parameter["description"]?.stringValue ?? "")
                    sub.string(4, parameter["name"]?.stringValue ?? "")
                    sub.string(place == "path" ? 5 : 6, parameter["type"]?.stringValue ?? "")
                    sub.bool(place == "path" ? 19 : 20, parameter["uniqueItems"]?.boolValue ?? false)
                }
            }
        }
    }

    static func schema(_ out: inout ProtobufWriter, _ schema: JSONValue) {
        out.string(1, schema["$ref"]?.stringValue ?? "")
        out.string(2, schema["format"]?.stringValue ?? "")
        out.string(3, schema["title"]?.stringValue ?? "")
        out.string(4, schema["description"]?.stringValue ?? "")
        if let value = schema["default"] { out.message(5) { $0.string(2, yaml(value)) } }
        for (field, key) in [(6, "multipleOf"), (7, "maximum"), (9, "minimum")] {
            if let number = schema[key]?.doubleValue { out.double(field, number) }
        }
        out.bool(8, schema["exclusiveMaximum"]?.boolValue ?? false)
        out.bool(10, schema["exclusiveMinimum"]?.boolValue ?? false)
        for (field, key) in [
            (11, "maxLength"), (12, "minLength"), (14, "maxItems"), (15, "minItems"), (17, "maxProperties"), (18, "minProperties"),
        ] {
            if let number = schema[key]?.intValue { out.varint(field, UInt64(bitPattern: number)) }
        }
        out.string(13, schema["pattern"]?.stringValue ?? "")
        out.bool(16, schema["uniqueItems"]?.boolValue ?? false)
        for name in schema["required"]?.arrayValue ?? [] { out.string(19, name.stringValue ?? "") }
        for value in schema["enum"]?.arrayValue ?? [] { out.message(20) { $0.string(2, yaml(value)) } }
        if let additional = schema["additionalProperties"] {
            out.message(21) { item in
                if let allowed = additional.boolValue {
                    item.bool(2, allowed, always: true)
                } else {
                    item.message(1) { self.schema(&$0, additional) }
                }
            }
        }
        if let type = schema["type"] {
            out.message(22) { item in
                for name in type.arrayValue ?? [type] { item.string(1, name.stringValue ?? "") }
            }
        }
        if let items = schema["items"] {
            out.message(23) { item in
                for element in items.arrayValue ?? [items] { item.message(1) { self.schema(&$0, element) } }
            }
        }
        for part in schema["allOf"]?.arrayValue ?? [] { out.message(24) { self.schema(&$0, part) } }
        if let properties = schema["properties"] {
            out.message(25) { named in
                for (name, property) in sorted(properties) {
                    named.message(1) { pair in
                        pair.string(1, name)
                        pair.message(2) { self.schema(&$0, property) }
                    }
                }
            }
        }
        out.bool(27, schema["readOnly"]?.boolValue ?? false)
        if let example = schema["example"] { out.message(30) { $0.string(2, yaml(example)) } }
        extensions(&out, 31, schema)
    }

    /// `x-` members as gnostic `NamedAny`s.
    static func extensions(_ out: inout ProtobufWriter, _ field: Int, _ value: JSONValue) {
        for (name, member) in sorted(value) where name.hasPrefix("x-") {
            out.message(field) { named in
                named.string(1, name)
                named.message(2) { $0.string(2, yaml(member)) }
            }
        }
    }

    static func yaml(_ value: JSONValue) -> String {
        String(decoding: value.serialized(), as: UTF8.self) + "\n"
    }
}
