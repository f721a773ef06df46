/// One RFC 6902 JSON patch operation, typed: `{"op": "replace", "path": "/spec/replicas",
/// "value": 3}`.
public struct JSONPatchOperation: Codable, Sendable, Hashable, CustomStringConvertible {
    public enum Op: String, Codable, Sendable, CaseIterable {
        case add, remove, replace, move, copy, test
    }

    public var op: Op
    /// An RFC 6901 JSON pointer (`/metadata/labels/tier`; `~1` for `/`, `~0` for `~`).
    public var path: String
    /// Where `move` and `copy` take their value from (a JSON pointer).
    public var from: String?
    /// The value of `add`, `replace` and `test`.
    public var value: JSONValue?

    public init(op: Op, path: String, from: String? = nil, value: JSONValue? = nil) {
        self.op = op
        self.path = path
        self.from = from
        self.value = value
    }

    /// The operation as a JSON patch document's element.
    public var json: JSONValue {
        var members: [String: JSONValue] = ["op": .string(op.rawValue), "path": .string(path)]
        if let from { members["from"] = .string(from) }
        if let value { members["value"] = value }
        return .object(members)
    }

    /// Why the operation is malformed (a missing value or source, a path that is no pointer),
    /// or nil when it is well formed.
    public var problem: String? {
        do {
            _ = try JSONPatch.pointer(path)
            if let from { _ = try JSONPatch.pointer(from) }
        } catch {
            return error.message
        }
        switch op {
        case .add, .replace, .test: return value == nil ? "\(op.rawValue) needs a value" : nil
        case .move, .copy: return from == nil ? "\(op.rawValue) needs from" : nil
        case .remove: return nil
        }
    }

    /// `replace /spec/replicas`, `move /a from /b`.
    public var description: String {
        "\(op.rawValue) \(path)" + (from.map { " from \($0)" } ?? "")
    }

    /// Applies the operations in order to `document`.
    public static func apply(_ operations: [JSONPatchOperation], to document: JSONValue) throws(JSONPatchError) -> JSONValue {
        try JSONPatch.apply(.array(operations.map(\.json)), to: document)
    }
}
