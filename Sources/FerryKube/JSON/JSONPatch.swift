/// Why a patch could not be applied to a document.
public struct JSONPatchError: Error, Sendable, Equatable, CustomStringConvertible {
    public var message: String
    public var description: String { message }
}

/// RFC 7386 JSON merge patch and RFC 6902 JSON patch, applied to unstructured documents.
public enum JSONPatch {
    /// Applies an RFC 7386 merge patch: objects merge recursively, `null` removes a member,
    /// everything else (arrays included) replaces.
    public static func mergePatch(_ target: JSONValue?, with patch: JSONValue) -> JSONValue {
        guard case .object(let patchMembers) = patch else { return patch }
        var members: [String: JSONValue]
        if case .object(let existing)? = target { members = existing } else { members = [:] }
        for (key, value) in patchMembers {
            if value.isNull {
                members.removeValue(forKey: key)
            } else {
                members[key] = mergePatch(members[key], with: value)
            }
        }
        return .object(members)
    }

    /// Applies an RFC 6902 JSON patch (an array of add/remove/replace/move/copy/test operations).
    public static func apply(_ operations: JSONValue, to document: JSONValue) throws(JSONPatchError) -> JSONValue {
        guard case .array(let ops) = operations else {
            throw JSONPatchError(message: "a JSON patch must be an array of operations")
        }
        var doc = document
        for (number, op) in ops.enumerated() {
            guard let name = op["op"]?.stringValue else {
                throw JSONPatchError(message: "operation \(number) has no \"op\"")
            }
            guard let pathText = op["path"]?.stringValue else {
                throw JSONPatchError(message: "operation \(number) (\(name)) has no \"path\"")
            }
            let path = try pointer(pathText)
            switch name {
            case "add":
                guard let value = op["value"] else { throw JSONPatchError(message: "add at \(pathText) has no value") }
                try add(value, at: path, in: &doc)
            case "remove":
                _ = try remove(at: path, in: &doc)
            case "replace":
                guard let value = op["value"] else {
                    throw JSONPatchError(message: "replace at \(pathText) has no value")
                }
                _ = try remove(at: path, in: &doc)
                try add(value, at: path, in: &doc)
            case "move":
                guard let fromText = op["from"]?.stringValue else {
                    throw JSONPatchError(message: "move to \(pathText) has no \"from\"")
                }
                let from = try pointer(fromText)
                if path.count > from.count, Array(path.prefix(from.count)) == from {
                    throw JSONPatchError(message: "cannot move \(fromText) into its own child \(pathText)")
                }
                let value = try remove(at: from, in: &doc)
                try add(value, at: path, in: &doc)
            case "copy":
                guard let fromText = op["from"]?.stringValue else {
                    throw JSONPatchError(message: "copy to \(pathText) has no \"from\"")
                }
                let value = try get(at: try pointer(fromText), in: doc)
                try add(value, at: path, in: &doc)
            case "test":
                let actual = try get(at: path, in: doc)
                guard actual == op["value"] ?? .null else {
                    throw JSONPatchError(message: "test failed at \(pathText)")
                }
            default:
                throw JSONPatchError(message: "unknown JSON patch operation \"\(name)\"")
            }
        }
        return doc
    }

    /// Splits an RFC 6901 JSON pointer into unescaped reference tokens.
    public static func pointer(_ text: String) throws(JSONPatchError) -> [String] {
        if text.isEmpty { return [] }
        guard text.hasPrefix("/") else {
            throw JSONPatchError(message: "JSON pointer \"\(text)\" must start with '/'")
        }
        return text.dropFirst().split(separator: "/", omittingEmptySubsequences: false).map {
            $0.replacingOccurrences(of: "~1", with: "/").replacingOccurrences(of: "~0", with: "~")
        }
    }

    private static func get(at path: [String], in doc: JSONValue) throws(JSONPatchError) -> JSONValue {
        var current = doc
        for token in path {
            switch current {
            case .object(let members):
                guard let next = members[token] else { throw missing(path) }
                current = next
            case .array(let elements):
                guard let i = Int(token), elements.indices.contains(i) else { throw missing(path) }
                current = elements[i]
            default:
                throw missing(path)
            }
        }
        return current
    }

    private static func missing(_ path: [String]) -> JSONPatchError {
        JSONPatchError(message: "path /\(path.joined(separator: "/")) does not exist")
    }

    private static func add(_ value: JSONValue, at path: [String], in doc: inout JSONValue) throws(JSONPatchError) {
        guard let token = path.first else {
            doc = value
            return
        }
        let rest = Array(path.dropFirst())
        switch doc {
        case .object(var members):
            if rest.isEmpty {
                members[token] = value
            } else {
                guard var child = members[token] else { throw missing(path) }
                try add(value, at: rest, in: &child)
                members[token] = child
            }
            doc = .object(members)
        case .array(var elements):
            if rest.isEmpty {
                if token == "-" {
                    elements.append(value)
                } else {
                    guard let i = Int(token), i >= 0, i <= elements.count else {
                        throw JSONPatchError(message: "array index \(token) is out of range")
                    }
                    elements.insert(value, at: i)
                }
            } else {
                guard let i = Int(token), elements.indices.contains(i) else { throw missing(path) }
                try add(value, at: rest, in: &elements[i])
            }
            doc = .array(elements)
        default:
            throw missing(path)
        }
    }

    private static func remove(at path: [String], in doc: inout JSONValue) throws(JSONPatchError) -> JSONValue {
        guard let token = path.first else {
            throw JSONPatchError(message: "cannot remove the whole document")
        }
        let rest = Array(path.dropFirst())
        switch doc {
        case .object(var members):
            guard var child = members[token] else { throw missing(path) }
            let removed: JSONValue
            if rest.isEmpty {
                removed = child
                members.removeValue(forKey: token)
            } else {
                removed = try remove(at: rest, in: &child)
                members[token] = child
            }
            doc = .object(members)
            return removed
        case .array(var elements):
            guard let i = Int(token), elements.indices.contains(i) else { throw missing(path) }
            let removed: JSONValue
            if rest.isEmpty {
                removed = elements.remove(at: i)
            } else {
                removed = try remove(at: rest, in: &elements[i])
            }
            doc = .array(elements)
            return removed
        default:
            throw missing(path)
        }
    }
}
