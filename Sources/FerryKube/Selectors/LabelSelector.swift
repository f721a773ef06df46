/// A Kubernetes label selector: a conjunction of requirements over an object's labels, parsed from
/// the query syntax (`app=web,tier in (a,b),!legacy`) or from a `LabelSelector` object
/// (`matchLabels` / `matchExpressions`), with the API server's matching semantics.
public struct LabelSelector: Sendable, Hashable, CustomStringConvertible {
    /// One condition on one label key.
    public struct Requirement: Sendable, Hashable {
        public enum Operator: String, Sendable, Hashable {
            case equals = "="
            case notEquals = "!="
            case `in` = "in"
            case notIn = "notin"
            case exists = "exists"
            case doesNotExist = "!"
            case greaterThan = "gt"
            case lessThan = "lt"
        }

        public var key: String
        public var op: Operator
        public var values: [String]

        public init(key: String, op: Operator, values: [String] = []) {
            self.key = key
            self.op = op
            self.values = values
        }

        public func matches(_ labels: [String: String]) -> Bool {
            let value = labels[key]
            switch op {
            case .equals, .in:
                guard let value else { return false }
                return values.contains(value)
            case .notEquals, .notIn:
                guard let value else { return true }
                return !values.contains(value)
            case .exists: return value != nil
            case .doesNotExist: return value == nil
            case .greaterThan, .lessThan:
                guard let value, let actual = Int64(value), let bound = values.first.flatMap({ Int64($0) }) else {
                    return false
                }
                return op == .greaterThan ? actual > bound : actual < bound
            }
        }

        var text: String {
            switch op {
            case .equals: return "\(key)=\(values.first ?? "")"
            case .notEquals: return "\(key)!=\(values.first ?? "")"
            case .in: return "\(key) in (\(values.sorted().joined(separator: ",")))"
            case .notIn: return "\(key) notin (\(values.sorted().joined(separator: ",")))"
            case .exists: return key
            case .doesNotExist: return "!\(key)"
            case .greaterThan: return "\(key)>\(values.first ?? "")"
            case .lessThan: return "\(key)<\(values.first ?? "")"
            }
        }
    }

    /// The requirements, all of which must hold.
    public var requirements: [Requirement]
    /// A selector that matches nothing (a nil `LabelSelector` in a Kubernetes object).
    public private(set) var matchesNothing = false

    /// The selector that matches every object.
    public static let everything = LabelSelector(requirements: [])
    /// The selector that matches no object.
    public static let nothing: LabelSelector = {
        var s = LabelSelector(requirements: [])
        s.matchesNothing = true
        return s
    }()

    public init(requirements: [Requirement]) {
        let normalized = requirements.map { requirement -> Requirement in
            var copy = requirement
            if copy.op == .in || copy.op == .notIn { copy.values = Array(Set(copy.values)).sorted() }
            return copy
        }
        self.requirements = normalized.sorted { ($0.key, $0.op.rawValue) < ($1.key, $1.op.rawValue) }
    }

    /// A selector requiring every given label to equal its value.
    public init(matchLabels: [String: String]) {
        self.init(requirements: matchLabels.map { Requirement(key: $0.key, op: .equals, values: [$0.value]) })
    }

    public var isEverything: Bool { requirements.isEmpty && !matchesNothing }

    public func matches(_ labels: [String: String]) -> Bool {
        if matchesNothing { return false }
        return requirements.allSatisfy { $0.matches(labels) }
    }

    /// The query-string form the API server accepts in `labelSelector=`.
    public var description: String { requirements.map(\.text).joined(separator: ",") }
}

/// Why a label or field selector was rejected.
public struct SelectorError: Error, Sendable, Equatable, CustomStringConvertible {
    public var selector: String
    public var reason: String
    public var description: String { "invalid selector \"\(selector)\": \(reason)" }
}

extension LabelSelector {
    /// Parses the label selector query syntax, validating keys and values as the API server does.
    public init(parsing text: String) throws(SelectorError) {
        var parser = LabelSelectorParser(text: text)
        self.init(requirements: try parser.parse())
    }

    /// Builds a selector from a Kubernetes `LabelSelector` object (`matchLabels`, `matchExpressions`).
    /// An absent (`nil`) selector matches nothing; an empty object matches everything.
    public init(object: JSONValue?) throws(SelectorError) {
        guard let object, !object.isNull else {
            self = .nothing
            return
        }
        guard case .object = object else {
            throw SelectorError(selector: object.serializedString(), reason: "a label selector must be an object")
        }
        var requirements: [Requirement] = []
        let context = object.serializedString()
        if let labels = object["matchLabels"], !labels.isNull {
            guard case .object(let members) = labels else {
                throw SelectorError(selector: context, reason: "matchLabels must be an object")
            }
            for (key, value) in members {
                guard case .string(let string) = value else {
                    throw SelectorError(selector: context, reason: "matchLabels[\(key)] must be a string")
                }
                try LabelSelectorParser.validateKey(key, in: context)
                try LabelSelectorParser.validateValue(string, in: context)
                requirements.append(Requirement(key: key, op: .equals, values: [string]))
            }
        }
        if let expressions = object["matchExpressions"], !expressions.isNull {
            guard case .array(let items) = expressions else {
                throw SelectorError(selector: context, reason: "matchExpressions must be an array")
            }
            for item in items {
                guard let key = item["key"]?.stringValue, let opName = item["operator"]?.stringValue else {
                    throw SelectorError(selector: context, reason: "a matchExpression needs key and operator")
                }
                try LabelSelectorParser.validateKey(key, in: context)
                let values = (item["values"]?.arrayValue ?? []).compactMap(\.stringValue)
                let op: Requirement.Operator
                switch opName {
                case "In": op = .in
                case "NotIn": op = .notIn
                case "Exists": op = .exists
                case "DoesNotExist": op = .doesNotExist
                default:
                    throw SelectorError(selector: context, reason: "\"\(opName)\" is not a valid label selector operator")
                }
                switch op {
                case .in, .notIn:
                    if values.isEmpty {
                        throw SelectorError(selector: context, reason: "operator \(opName) of \(key) needs values")
                    }
                default:
                    if !values.isEmpty {
                        throw SelectorError(selector: context, reason: "operator \(opName) of \(key) takes no values")
                    }
                }
                for value in values { try LabelSelectorParser.validateValue(value, in: context) }
                requirements.append(Requirement(key: key, op: op, values: values))
            }
        }
        self.init(requirements: requirements)
    }
}

struct LabelSelectorParser {
    let text: String
    let chars: [Character]
    var index = 0

    init(text: String) {
        self.text = text
        self.chars = Array(text)
    }

    func error(_ reason: String) -> SelectorError { SelectorError(selector: text, reason: reason) }

    mutating func skipSpaces() {
        while index < chars.count, chars[index] == " " || chars[index] == "\t" { index += 1 }
    }

    mutating func parse() throws(SelectorError) -> [LabelSelector.Requirement] {
        var requirements: [LabelSelector.Requirement] = []
        skipSpaces()
        if index == chars.count { return [] }
        while true {
            requirements.append(try parseRequirement())
            skipSpaces()
            if index == chars.count { return requirements }
            guard chars[index] == "," else { throw error("expected ',' at position \(index)") }
            index += 1
        }
    }

    static func isWordChar(_ c: Character) -> Bool {
        !(c == " " || c == "\t" || c == "," || c == "=" || c == "!" || c == "(" || c == ")" || c == "<"
            || c == ">")
    }

    mutating func word() -> String {
        let start = index
        while index < chars.count, Self.isWordChar(chars[index]) { index += 1 }
        return String(chars[start..<index])
    }

    mutating func parseRequirement() throws(SelectorError) -> LabelSelector.Requirement {
        skipSpaces()
        if index < chars.count, chars[index] == "!" {
            index += 1
            skipSpaces()
            let key = word()
            try Self.validateKey(key, in: text)
            return .init(key: key, op: .doesNotExist)
        }
        let key = word()
        try Self.validateKey(key, in: text)
        skipSpaces()
        if index == chars.count || chars[index] == "," {
            return .init(key: key, op: .exists)
        }
        if chars[index] == "=" {
            index += 1
            if index < chars.count, chars[index] == "=" { index += 1 }
            return .init(key: key, op: .equals, values: [try singleValue()])
        }
        if chars[index] == "!" {
            index += 1
            guard index < chars.count, chars[index] == "=" else { throw error("expected '=' after '!'") }
            index += 1
            return .init(key: key, op: .notEquals, values: [try singleValue()])
        }
        if chars[index] == ">" || chars[index] == "<" {
            let op: LabelSelector.Requirement.Operator = chars[index] == ">" ? .greaterThan : .lessThan
            index += 1
            let value = try singleValue()
            guard Int64(value) != nil else { throw error("\(key) \(op == .greaterThan ? ">" : "<") needs an integer") }
            return .init(key: key, op: op, values: [value])
        }
        let opWord = word()
        let op: LabelSelector.Requirement.Operator
        switch opWord {
        case "in": op = .in
        case "notin": op = .notIn
        default: throw error("unknown operator \"\(opWord)\" after key \(key)")
        }
        skipSpaces()
        guard index < chars.count, chars[index] == "(" else { throw error("expected '(' after \(opWord)") }
        index += 1
        skipSpaces()
        if index < chars.count, chars[index] == ")" { throw error("the value set of \(key) \(opWord) can't be empty") }
        var values: [String] = []
        while true {
            skipSpaces()
            let value = word()
            try Self.validateValue(value, in: text)
            values.append(value)
            skipSpaces()
            guard index < chars.count else { throw error("unterminated value list") }
            if chars[index] == "," {
                index += 1
                continue
            }
            guard chars[index] == ")" else { throw error("expected ',' or ')' in the value list of \(key)") }
            index += 1
            break
        }
        return .init(key: key, op: op, values: values)
    }

    mutating func singleValue() throws(SelectorError) -> String {
        skipSpaces()
        let value = word()
        try Self.validateValue(value, in: text)
        return value
    }

    static func isAlnum(_ c: Character) -> Bool {
        c.isASCII && (c.isLetter || c.isNumber)
    }

    /// A qualified name: `[prefix/]name`, name ≤ 63 characters of alphanumerics and `-_.` that
    /// starts and ends alphanumeric; prefix a DNS subdomain ≤ 253 characters.
    static func validateKey(_ key: String, in context: String) throws(SelectorError) {
        let parts = key.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count <= 2 else {
            throw SelectorError(selector: context, reason: "label key \"\(key)\" has more than one '/'")
        }
        let name = String(parts.last!)
        if parts.count == 2 {
            let prefix = parts[0]
            let valid =
                !prefix.isEmpty && prefix.count <= 253
                && prefix.split(separator: ".", omittingEmptySubsequences: false).allSatisfy { label in
                    !label.isEmpty && label.count <= 63 && isAlnum(label.first!) && isAlnum(label.last!)
                        && label.allSatisfy { ($0.isASCII && ($0.isLowercase || $0.isNumber)) || $0 == "-" }
                }
            guard valid else {
                throw SelectorError(selector: context, reason: "label key prefix \"\(prefix)\" is not a DNS subdomain")
            }
        }
        guard !name.isEmpty, name.count <= 63, isAlnum(name.first!), isAlnum(name.last!),
            name.allSatisfy({ isAlnum($0) || $0 == "-" || $0 == "_" || $0 == "." })
        else {
            throw SelectorError(
                selector: context,
                reason: "label key \"\(key)\" must be at most 63 alphanumerics, '-', '_' or '.', starting and ending alphanumeric")
        }
    }

    static func validateValue(_ value: String, in context: String) throws(SelectorError) {
        if value.isEmpty { return }
        guard value.count <= 63, isAlnum(value.first!), isAlnum(value.last!),
            value.allSatisfy({ isAlnum($0) || $0 == "-" || $0 == "_" || $0 == "." })
        else {
            throw SelectorError(
                selector: context,
                reason: "label value \"\(value)\" must be at most 63 alphanumerics, '-', '_' or '.', starting and ending alphanumeric")
        }
    }
}
