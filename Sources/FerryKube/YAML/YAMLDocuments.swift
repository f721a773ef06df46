import Yams

/// Why YAML text could not be turned into JSON values.
public struct YAMLError: Error, Sendable, Equatable, CustomStringConvertible {
    public var message: String
    public var description: String { "invalid YAML: \(message)" }
}

/// Converts YAML (kubeconfigs, manifests, multi-document Helm output) into JSON values, resolving
/// scalars as Kubernetes' YAML→JSON conversion does: booleans, integers, floats and nulls become
/// JSON types; everything else (timestamps included) stays a string.
public enum YAMLDocuments {
    /// The deepest nesting accepted, so hostile input cannot exhaust the stack.
    public static let maximumNestingDepth = 256

    /// Parses every document of a multi-document stream; empty documents (`---` with nothing
    /// after it, comments only) are skipped.
    public static func parse(_ text: String) throws(YAMLError) -> [JSONValue] {
        do {
            let parser = try Parser(yaml: text, resolver: .default, constructor: .default, encoding: .utf8)
            var documents: [JSONValue] = []
            // Aliases can expand a small text into an enormous tree ("billion laughs"): without
            // aliases a document has fewer nodes than bytes, so that bounds what we build.
            var budget = text.utf8.count + 64
            while let root = try parser.nextRoot() {
                let value = try convert(root, depth: 0, budget: &budget)
                if !value.isNull { documents.append(value) }
            }
            return documents
        } catch let error as YAMLError {
            throw error
        } catch {
            throw YAMLError(message: "\(error)")
        }
    }

    /// Parses a stream that must hold exactly one document (a kubeconfig, say).
    public static func parseSingle(_ text: String) throws(YAMLError) -> JSONValue {
        let documents = try parse(text)
        guard documents.count <= 1 else {
            throw YAMLError(message: "expected one document, found \(documents.count)")
        }
        return documents.first ?? .null
    }

    private static func convert(_ node: Node, depth: Int, budget: inout Int) throws -> JSONValue {
        budget -= 1
        if budget < 0 {
            throw YAMLError(message: "the document expands to more nodes than its size allows (alias bomb?)")
        }
        guard depth <= maximumNestingDepth else {
            throw YAMLError(message: "nesting deeper than \(maximumNestingDepth) levels")
        }
        switch node {
        case .scalar(let scalar):
            return convert(scalar: scalar, node: node)
        case .sequence(let sequence):
            var elements: [JSONValue] = []
            for element in sequence { elements.append(try convert(element, depth: depth + 1, budget: &budget)) }
            return .array(elements)
        case .mapping(let mapping):
            var members: [String: JSONValue] = [:]
            for (key, value) in mapping {
                if key.tag.rawValue == Tag.Name.merge.rawValue, case .mapping(let merged) = value {
                    for (mk, mv) in merged where members[mk.string ?? ""] == nil {
                        members[mk.string ?? ""] = try convert(mv, depth: depth + 1, budget: &budget)
                    }
                    continue
                }
                guard case .scalar(let keyScalar) = key else {
                    throw YAMLError(message: "a mapping key is not a scalar\(location(key))")
                }
                members[keyScalar.string] = try convert(value, depth: depth + 1, budget: &budget)
            }
            return .object(members)
        case .alias:
            throw YAMLError(message: "unresolved alias\(location(node))")
        }
    }

    private static func convert(scalar: Node.Scalar, node: Node) -> JSONValue {
        if scalar.style != .plain && scalar.style != .any { return .string(scalar.string) }
        switch Tag.Name(rawValue: node.tag.rawValue) {
        case .null: return .null
        case .bool:
            if let b = node.bool { return .bool(b) }
        case .int:
            if let i = node.int { return .int(Int64(i)) }
        case .float:
            if let d = node.float { return .double(d) }
        default:
            break
        }
        return .string(scalar.string)
    }

    private static func location(_ node: Node) -> String {
        guard let mark = node.mark else { return "" }
        return " at line \(mark.line), column \(mark.column)"
    }
}
