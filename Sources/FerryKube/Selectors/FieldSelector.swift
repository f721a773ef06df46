/// A Kubernetes field selector (`metadata.name=web,status.phase!=Running`): equality and
/// inequality terms over an object's selectable fields, with `\` escaping `,`, `=` and `\`.
public struct FieldSelector: Sendable, Hashable, CustomStringConvertible {
    /// One term: the field, the expected value, and whether the value must differ.
    public struct Term: Sendable, Hashable {
        public var field: String
        public var value: String
        public var negated: Bool

        public init(field: String, value: String, negated: Bool = false) {
            self.field = field
            self.value = value
            self.negated = negated
        }
    }

    public var terms: [Term]

    public init(terms: [Term]) {
        self.terms = terms
    }

    public static let everything = FieldSelector(terms: [])

    public init(parsing text: String) throws(SelectorError) {
        var terms: [Term] = []
        var current = ""
        var pieces: [String] = []
        var escaping = false
        for c in text {
            if escaping {
                current.append("\\")
                current.append(c)
                escaping = false
            } else if c == "\\" {
                escaping = true
            } else if c == "," {
                pieces.append(current)
                current = ""
            } else {
                current.append(c)
            }
        }
        if escaping { throw SelectorError(selector: text, reason: "dangling escape character") }
        pieces.append(current)
        for piece in pieces where !piece.trimmingSpaces.isEmpty {
            terms.append(try Self.parseTerm(piece, in: text))
        }
        self.init(terms: terms)
    }

    private static func parseTerm(_ piece: String, in text: String) throws(SelectorError) -> Term {
        let chars = Array(piece)
        var i = 0
        while i < chars.count {
            if chars[i] == "\\" {
                i += 2
                continue
            }
            if chars[i] == "!" && i + 1 < chars.count && chars[i + 1] == "=" {
                return Term(
                    field: String(chars[..<i]).trimmingSpaces, value: unescape(String(chars[(i + 2)...])),
                    negated: true)
            }
            if chars[i] == "=" {
                let valueStart = (i + 1 < chars.count && chars[i + 1] == "=") ? i + 2 : i + 1
                return Term(field: String(chars[..<i]).trimmingSpaces, value: unescape(String(chars[valueStart...])))
            }
            i += 1
        }
        throw SelectorError(selector: text, reason: "\"\(piece)\" is not of the form field=value or field!=value")
    }

    private static func unescape(_ s: String) -> String {
        var out = ""
        var escaping = false
        for c in s {
            if escaping {
                out.append(c)
                escaping = false
            } else if c == "\\" {
                escaping = true
            } else {
                out.append(c)
            }
        }
        return out
    }

    private static func escape(_ s: String) -> String {
        var out = ""
        for c in s {
            if c == "\\" || c == "," || c == "=" { out.append("\\") }
            out.append(c)
        }
        return out
    }

    /// Whether `fields` (field path → value; absent fields read as "") satisfies every term.
    public func matches(_ fields: [String: String]) -> Bool {
        terms.allSatisfy { term in
            let actual = fields[term.field] ?? ""
            return term.negated ? actual != term.value : actual == term.value
        }
    }

    public var description: String {
        terms.map { "\($0.field)\($0.negated ? "!=" : "=")\(Self.escape($0.value))" }.joined(separator: ",")
    }
}

extension String {
    var trimmingSpaces: String {
        var s = Substring(self)
        while s.first == " " || s.first == "\t" { s = s.dropFirst() }
        while s.last == " " || s.last == "\t" { s = s.dropLast() }
        return String(s)
    }
}
