import FerryKube
import Yams

/// Renders a captured Kubernetes object (JSON) as YAML the way people read manifests:
/// `apiVersion`, `kind`, `metadata` first, other keys sorted; strings that YAML would read as
/// another type (`"true"`, `"0755"`, timestamps) quoted; multi-line strings as literal blocks.
/// Parsing the text back gives the same JSON value.
public enum ObjectYAML {
    public static func render(_ value: JSONValue) throws -> String {
        try Yams.serialize(node: node(value), indent: 2, width: -1, allowUnicode: true)
    }

    /// A multi-document stream of `values`.
    public static func render(documents values: [JSONValue]) throws -> String {
        try Yams.serialize(nodes: values.map(node), indent: 2, width: -1, allowUnicode: true, explicitStart: true)
    }

    private static let leading = ["apiVersion", "kind", "metadata"]

    static func node(_ value: JSONValue) -> Node {
        switch value {
        case .null: return Node("null", Tag(.null))
        case .bool(let b): return Node(b ? "true" : "false", Tag(.bool))
        case .int(let i): return Node(String(i), Tag(.int))
        case .double(let d): return Node(d.isFinite ? "\(d)" : (d.isNaN ? ".nan" : (d < 0 ? "-.inf" : ".inf")), Tag(.float))
        case .string(let s): return Node(s, Tag(.str), style(for: s))
        case .array(let elements): return Node(elements.map(node), Tag(.seq), .block)
        case .object(let members):
            let keys = leading.filter { members[$0] != nil } + members.keys.filter { !leading.contains($0) }.sorted()
            return Node(keys.map { (Node($0, Tag(.str), style(for: $0)), node(members[$0]!)) }, Tag(.map), .block)
        }
    }

    private static func style(for string: String) -> Node.Scalar.Style {
        if string.contains("\n"), !string.hasPrefix(" "), !string.contains("\r"), !string.contains("\t") { return .literal }
        if string.isEmpty || Resolver.default.resolveTag(of: Node(string)) != .str { return .doubleQuoted }
        return .any
    }
}
