/// A JSON document held as a tree of values: the unstructured form of every Kubernetes object
/// Ferry reads, stores or sends.
///
/// Integers keep their exact 64-bit value (Kubernetes uses int64 fields such as `generation`);
/// numbers with a fraction or exponent, or beyond the Int64 range, are `double`.
public enum JSONValue: Sendable, Hashable {
    case null
    case bool(Bool)
    case int(Int64)
    case double(Double)
    case string(String)
    case array([JSONValue])
    case object([String: JSONValue])
}

extension JSONValue {
    /// The member named `key` when this is an object.
    public subscript(key: String) -> JSONValue? {
        get {
            guard case .object(let members) = self else { return nil }
            return members[key]
        }
        set {
            guard case .object(var members) = self else {
                if let newValue { self = .object([key: newValue]) }
                return
            }
            self = .null
            members[key] = newValue
            self = .object(members)
        }
    }

    /// The element at `index` when this is an array and the index is in range.
    public subscript(index: Int) -> JSONValue? {
        guard case .array(let elements) = self, elements.indices.contains(index) else { return nil }
        return elements[index]
    }

    /// The value found by following `path` through nested objects.
    public func value(at path: [String]) -> JSONValue? {
        var current = self
        for key in path {
            guard let next = current[key] else { return nil }
            current = next
        }
        return current
    }

    /// Sets (or with `nil`, removes) the value at `path`, creating intermediate objects.
    public mutating func setValue(_ value: JSONValue?, at path: [String]) {
        guard let first = path.first else {
            self = value ?? .null
            return
        }
        if path.count == 1 {
            self[first] = value
            return
        }
        var child = self[first] ?? .object([:])
        if case .object = child {} else { child = .object([:]) }
        child.setValue(value, at: Array(path.dropFirst()))
        self[first] = child
    }

    public var stringValue: String? {
        if case .string(let s) = self { return s }
        return nil
    }

    public var boolValue: Bool? {
        if case .bool(let b) = self { return b }
        return nil
    }

    /// The integer value; a `double` with an exact integral value counts too.
    public var intValue: Int64? {
        switch self {
        case .int(let i): return i
        case .double(let d) where d.rounded() == d && abs(d) < 9.2e18: return Int64(d)
        default: return nil
        }
    }

    public var doubleValue: Double? {
        switch self {
        case .int(let i): return Double(i)
        case .double(let d): return d
        default: return nil
        }
    }

    public var arrayValue: [JSONValue]? {
        if case .array(let a) = self { return a }
        return nil
    }

    public var objectValue: [String: JSONValue]? {
        if case .object(let o) = self { return o }
        return nil
    }

    public var isNull: Bool {
        if case .null = self { return true }
        return false
    }

    /// A short name of the value's JSON type, for error messages.
    public var typeName: String {
        switch self {
        case .null: return "null"
        case .bool: return "boolean"
        case .int, .double: return "number"
        case .string: return "string"
        case .array: return "array"
        case .object: return "object"
        }
    }

    /// A string-to-string map (labels, annotations, ConfigMap data); other member types are skipped.
    public var stringMap: [String: String] {
        guard case .object(let members) = self else { return [:] }
        var result: [String: String] = [:]
        for (key, value) in members {
            if case .string(let s) = value { result[key] = s }
        }
        return result
    }

    /// Builds an object value from a string map.
    public init(stringMap: [String: String]) {
        self = .object(stringMap.mapValues { .string($0) })
    }
}

extension JSONValue: ExpressibleByBooleanLiteral, ExpressibleByIntegerLiteral,
    ExpressibleByFloatLiteral, ExpressibleByStringLiteral, ExpressibleByArrayLiteral,
    ExpressibleByDictionaryLiteral
{
    public init(booleanLiteral value: Bool) { self = .bool(value) }
    public init(integerLiteral value: Int64) { self = .int(value) }
    public init(floatLiteral value: Double) { self = .double(value) }
    public init(stringLiteral value: String) { self = .string(value) }
    public init(arrayLiteral elements: JSONValue...) { self = .array(elements) }
    public init(dictionaryLiteral elements: (String, JSONValue)...) {
        var members: [String: JSONValue] = [:]
        for (key, value) in elements { members[key] = value }
        self = .object(members)
    }
}

extension JSONValue: CustomStringConvertible {
    /// Compact JSON text with sorted keys.
    public var description: String { serializedString() }
}

extension JSONValue {
    /// This object with `other`'s members added (replacing same-named ones); other values as
    /// they are.
    public func merging(_ other: JSONValue) -> JSONValue {
        guard case .object(var members) = self, case .object(let extra) = other else { return self }
        for (key, value) in extra { members[key] = value }
        return .object(members)
    }
}
