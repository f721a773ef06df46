import FerryKube

/// The part of Kubernetes JSONPath (k8s.io/client-go/util/jsonpath) that printer columns use:
/// `.a.b`, `['a.b']`, `[0]` and `[-1]`, `[*]` and `.*`, `..name`, and filters
/// `[?(@.type=="Ready")]` (==, !=, <, <=, >, >=, or a bare `@.x` for existence). Missing keys
/// give no result, as with `AllowMissingKeys(true)`.
struct JSONPathExpression: Sendable {
    enum Step: Sendable {
        case field(String)
        case index(Int)
        case wildcard
        case recursive(String)
        case filter(left: [Step], op: String?, right: JSONValue?)
    }

    struct ParseError: Error, CustomStringConvertible {
        var description: String
    }

    let steps: [Step]

    /// Parses a column's `jsonPath` (braces optional: `{.status.phase}` or `.status.phase`).
    init(_ text: String) throws(ParseError) {
        var body = Substring(text.trimmingCharacters(in: " "))
        if body.hasPrefix("{") && body.hasSuffix("}") { body = body.dropFirst().dropLast() }
        var parser = Parser(text: Array(body))
        steps = try parser.steps(until: nil)
    }

    /// Every value the path selects, in document order.
    func results(in value: JSONValue) -> [JSONValue] {
        Self.apply(steps[...], to: [value])
    }

    private static func apply(_ steps: ArraySlice<Step>, to values: [JSONValue]) -> [JSONValue] {
        guard let step = steps.first else { return values }
        var next: [JSONValue] = []
        for value in values {
            switch step {
            case .field(let name):
                if let member = value[name] { next.append(member) }
            case .index(let index):
                if let items = value.arrayValue {
                    let position = index < 0 ? items.count + index : index
                    if items.indices.contains(position) { next.append(items[position]) }
                }
            case .wildcard:
                if let items = value.arrayValue { next += items }
                if let members = value.objectValue { next += members.keys.sorted().map { members[$0]! } }
            case .recursive(let name):
                next += descendants(value).compactMap { name == "*" ? $0 : $0[name] }
            case .filter(let left, let op, let right):
                let items = value.arrayValue ?? [value]
                next += items.filter { item in
                    guard let found = apply(left[...], to: [item]).first else { return false }
                    guard let op, let right else { return true }
                    return compare(found, op, right)
                }
            }
        }
        return apply(steps.dropFirst(), to: next)
    }

    private static func descendants(_ value: JSONValue) -> [JSONValue] {
        var all = [value]
        if let items = value.arrayValue { all += items.flatMap(descendants) }
        if let members = value.objectValue { all += members.keys.sorted().flatMap { descendants(members[$0]!) } }
        return all
    }

    private static func compare(_ left: JSONValue, _ op: String, _ right: JSONValue) -> Bool {
        if let l = left.doubleValue, let r = right.doubleValue {
            switch op {
            case "==": return l == r
            case "!=": return l != r
            case "<": return l < r
            case "<=": return l <= r
            case ">": return l > r
            case ">=": return l >= r
            default: return false
            }
        }
        let l = left.stringValue ?? String(decoding: left.serialized(), as: UTF8.self)
        let r = right.stringValue ?? String(decoding: right.serialized(), as: UTF8.self)
        switch op {
        case "==": return l == r
        case "!=": return l != r
        case "<": return l < r
        case "<=": return l <= r
        case ">": return l > r
        case ">=": return l >= r
        default: return false
        }
    }

    private struct Parser {
        let text: [Character]
        var index = 0

        func error(_ message: String) -> ParseError {
            ParseError(description: "unrecognized JSONPath \(String(text)): \(message)")
        }

        mutating func steps(until end: Character?) throws(ParseError) -> [Step] {
            var steps: [Step] = []
            while index < text.count {
                let character = text[index]
                if let end, character == end || character == " " || "=!<>".contains(character) { break }
                switch character {
                case ".":
                    index += 1
                    if index < text.count, text[index] == "." {
                        index += 1
                        steps.append(.recursive(name()))
                    } else {
                        let field = name()
                        if field.isEmpty { continue }
                        steps.append(field == "*" ? .wildcard : .field(field))
                    }
                case "[":
                    index += 1
                    steps.append(try bracket())
                case "@", "$":
                    index += 1
                default:
                    throw error("unexpected \(character)")
                }
            }
            return steps
        }

        mutating func name() -> String {
            var out = ""
            while index < text.count, !".[]()=!<> ".contains(text[index]) {
                out.append(text[index])
                index += 1
            }
            return out
        }

        mutating func bracket() throws(ParseError) -> Step {
            guard index < text.count else { throw error("unterminated [") }
            if text[index] == "'" || text[index] == "\"" {
                let quote = text[index]
                index += 1
                var out = ""
                while index < text.count, text[index] != quote {
                    out.append(text[index])
                    index += 1
                }
                index += 1
                try close("]")
                return .field(out)
            }
            if text[index] == "*" {
                index += 1
                try close("]")
                return .wildcard
            }
            if text[index] == "?" {
                index += 1
                try close("(")
                let left = try steps(until: ")")
                skipSpaces()
                var op: String?
                var right: JSONValue?
                if index < text.count, text[index] != ")" {
                    var symbol = ""
                    while index < text.count, "=!<>".contains(text[index]) {
                        symbol.append(text[index])
                        index += 1
                    }
                    skipSpaces()
                    var literal = ""
                    while index < text.count, text[index] != ")" {
                        literal.append(text[index])
                        index += 1
                    }
                    op = symbol
                    right = Self.literal(literal.trimmingCharacters(in: " "))
                }
                try close(")")
                try close("]")
                return .filter(left: left, op: op, right: right)
            }
            var number = ""
            while index < text.count, text[index] != "]" {
                number.append(text[index])
                index += 1
            }
            try close("]")
            guard let value = Int(number.trimmingCharacters(in: " ")) else { throw error("unsupported index [\(number)]") }
            return .index(value)
        }

        static func literal(_ text: String) -> JSONValue {
            if let first = text.first, first == "'" || first == "\"", text.count >= 2 {
                return .string(String(text.dropFirst().dropLast()))
            }
            return (try? JSONValue(parsing: text)) ?? .string(text)
        }

        mutating func skipSpaces() {
            while index < text.count, text[index] == " " { index += 1 }
        }

        mutating func close(_ character: Character) throws(ParseError) {
            skipSpaces()
            guard index < text.count, text[index] == character else { throw error("expected \(character)") }
            index += 1
        }
    }
}
