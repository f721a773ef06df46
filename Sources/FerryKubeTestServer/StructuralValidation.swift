import FerryKube
import Foundation

/// What kube-apiserver does with a custom resource's structural schema after pruning: applies
/// its `default`s where a field is absent, then validates the object (types, required, enum,
/// pattern, formats, bounds of numbers, strings, arrays and maps, `nullable`,
/// `x-kubernetes-int-or-string`, `x-kubernetes-preserve-unknown-fields`). Each failure is a
/// `Status` cause with the field path and the message the real server gives (its wording from
/// k8s.io/kube-openapi's validate package, as seen in 422 answers). Not done: CEL rules
/// (`x-kubernetes-validations`; the chart's CRDs carry none), `oneOf`/`anyOf`/`allOf`/`not`,
/// `uniqueItems`, `multipleOf` and the list-type and map-type uniqueness checks.
enum StructuralValidation {
    /// A failed check: the field path, the Status cause reason and the message after the path.
    struct Cause: Equatable {
        var field: String
        var reason: String
        var message: String
    }

    // MARK: - Defaults

    /// Sets the schema's defaults on absent fields of objects that are present (as the real
    /// server, also inside array items and map values); apiVersion, kind and metadata are the
    /// server's own.
    static func applyDefaults(_ object: inout JSONValue, schema: JSONValue) {
        guard case .object(let members) = object else { return }
        let own = ["apiVersion", "kind", "metadata"]
        var rest = JSONValue.object(members.filter { !own.contains($0.key) })
        defaults(&rest, at: schema)
        object = .object((rest.objectValue ?? [:]).merging(members.filter { own.contains($0.key) }) { _, server in server })
    }

    private static func defaults(_ value: inout JSONValue, at schema: JSONValue) {
        switch value {
        case .object(var members):
            for (key, property) in schema["properties"]?.objectValue ?? [:] {
                if members[key] == nil, let value = property["default"] { members[key] = value }
                if members[key] != nil { defaults(&members[key]!, at: property) }
            }
            if let additional = schema["additionalProperties"], additional.objectValue != nil {
                for key in Array(members.keys) where schema["properties"]?[key] == nil { defaults(&members[key]!, at: additional) }
            }
            value = .object(members)
        case .array(var items):
            if let itemSchema = schema["items"] {
                for index in items.indices { defaults(&items[index], at: itemSchema) }
            }
            value = .array(items)
        default:
            break
        }
    }

    // MARK: - Validation

    /// Every failure of `object` against `schema` (none: valid).
    static func validate(_ object: JSONValue, schema: JSONValue) -> [Cause] {
        guard case .object(let members) = object, let properties = schema["properties"]?.objectValue else { return [] }
        var causes: [Cause] = []
        for required in schema["required"]?.arrayValue?.compactMap(\.stringValue) ?? [] where members[required] == nil {
            causes.append(Cause(field: required, reason: "FieldValueRequired", message: "Required value"))
        }
        for (key, value) in members.sorted(by: { $0.key < $1.key }) where !["apiVersion", "kind", "metadata"].contains(key) {
            if let property = properties[key] { check(value, at: property, path: key, into: &causes) }
        }
        return causes
    }

    private static func check(_ value: JSONValue, at schema: JSONValue, path: String, into causes: inout [Cause]) {
        func invalid(_ detail: String) {
            causes.append(
                Cause(field: path, reason: "FieldValueInvalid", message: "Invalid value: \(shown(value)): \(path) in body \(detail)"))
        }
        if case .null = value {
            if schema["nullable"]?.boolValue != true {
                causes.append(
                    Cause(
                        field: path, reason: "FieldValueTypeInvalid",
                        message:
                            "Invalid value: \"null\": \(path) in body must be of type \(schema["type"]?.stringValue ?? "object"): \"null\"")
                )
            }
            return
        }
        if schema["x-kubernetes-int-or-string"]?.boolValue == true {
            switch value {
            case .int, .string: break
            default:
                causes.append(
                    Cause(
                        field: path, reason: "FieldValueTypeInvalid",
                        message:
                            "Invalid value: \"\(typeName(value))\": \(path)"
                            + " in body must be of type integer-or-string: \"\(typeName(value))\""
                    ))
                return
            }
        } else if let type = schema["type"]?.stringValue, !matches(value, type: type) {
            causes.append(
                Cause(
                    field: path, reason: "FieldValueTypeInvalid",
                    message: "Invalid value: \"\(typeName(value))\": \(path) in body must be of type \(type): \"\(typeName(value))\""))
            return
        }
        if let allowed = schema["enum"]?.arrayValue, !allowed.contains(value) {
            causes.append(
                Cause(
                    field: path, reason: "FieldValueNotSupported",
                    message: "Unsupported value: \(shown(value)): supported values: \(allowed.map(shown).joined(separator: ", "))"))
        }
        switch value {
        case .string(let text):
            if let pattern = schema["pattern"]?.stringValue, text.range(of: pattern, options: .regularExpression) == nil {
                invalid("should match '\(pattern)'")
            }
            if let minimum = schema["minLength"]?.intValue, text.count < minimum { invalid("should be at least \(minimum) chars long") }
            if let maximum = schema["maxLength"]?.intValue, text.count > maximum {
                causes.append(Cause(field: path, reason: "FieldValueTooLong", message: "Too long: may not be longer than \(maximum)"))
            }
            if let format = schema["format"]?.stringValue, !conforms(text, to: format) {
                invalid("must be of type \(format): \(shown(value))")
            }
        case .int, .double:
            let number = value.doubleValue ?? 0
            if let minimum = schema["minimum"]?.doubleValue {
                let exclusive = schema["exclusiveMinimum"]?.boolValue == true
                if exclusive ? number <= minimum : number < minimum {
                    invalid("should be greater than \(exclusive ? "" : "or equal to ")\(shown(schema["minimum"]!))")
                }
            }
            if let maximum = schema["maximum"]?.doubleValue {
                let exclusive = schema["exclusiveMaximum"]?.boolValue == true
                if exclusive ? number >= maximum : number > maximum {
                    invalid("should be less than \(exclusive ? "" : "or equal to ")\(shown(schema["maximum"]!))")
                }
            }
        case .array(let items):
            if let minimum = schema["minItems"]?.intValue, items.count < minimum {
                causes.append(
                    Cause(
                        field: path, reason: "FieldValueInvalid",
                        message: "Invalid value: \(items.count): \(path) in body should have at least \(minimum) items"))
            }
            if let maximum = schema["maxItems"]?.intValue, items.count > maximum {
                causes.append(
                    Cause(field: path, reason: "FieldValueTooMany", message: "Too many: \(items.count): must have at most \(maximum) items")
                )
            }
            if let itemSchema = schema["items"] {
                for (index, item) in items.enumerated() { check(item, at: itemSchema, path: "\(path)[\(index)]", into: &causes) }
            }
        case .object(let members):
            for required in schema["required"]?.arrayValue?.compactMap(\.stringValue) ?? [] where members[required] == nil {
                causes.append(Cause(field: "\(path).\(required)", reason: "FieldValueRequired", message: "Required value"))
            }
            if let minimum = schema["minProperties"]?.intValue, members.count < minimum {
                invalid("should have at least \(minimum) properties")
            }
            if let maximum = schema["maxProperties"]?.intValue, members.count > maximum {
                causes.append(
                    Cause(
                        field: path, reason: "FieldValueTooMany", message: "Too many: \(members.count): must have at most \(maximum) items")
                )
            }
            let properties = schema["properties"]?.objectValue ?? [:]
            for (key, member) in members.sorted(by: { $0.key < $1.key }) {
                if let property = properties[key] {
                    check(member, at: property, path: "\(path).\(key)", into: &causes)
                } else if let additional = schema["additionalProperties"], additional.objectValue != nil {
                    check(member, at: additional, path: "\(path).\(key)", into: &causes)
                }
            }
        default:
            break
        }
    }

    private static func matches(_ value: JSONValue, type: String) -> Bool {
        switch (type, value) {
        case ("string", .string), ("boolean", .bool), ("integer", .int), ("number", .int), ("number", .double), ("array", .array),
            ("object", .object):
            return true
        case ("integer", .double(let number)):
            return number.rounded() == number
        default:
            return false
        }
    }

    private static func typeName(_ value: JSONValue) -> String {
        switch value {
        case .null: "null"
        case .bool: "boolean"
        case .int: "integer"
        case .double: "number"
        case .string: "string"
        case .array: "array"
        case .object: "object"
        }
    }

    /// A value as the real server's messages show it (Go's %#v of the decoded JSON, near enough).
    private static func shown(_ value: JSONValue) -> String {
        switch value {
        case .string(let text): "\"\(text)\""
        case .int(let number): "\(number)"
        case .double(let number): number.rounded() == number && abs(number) < 1e15 ? "\(Int64(number))" : "\(number)"
        case .bool(let flag): "\(flag)"
        default: value.serializedString()
        }
    }

    private static func conforms(_ text: String, to format: String) -> Bool {
        switch format {
        case "date-time":
            return ISO8601DateFormatter().date(from: text) != nil
                || {
                    let f = ISO8601DateFormatter(); f.formatOptions = [.withInternetDateTime, .withFractionalSeconds];
                    return f.date(from: text) != nil
                }()
        case "byte":
            return Data(base64Encoded: text) != nil
        default:
            return true // formats the real server does not check either, or not here
        }
    }
}
