import FerryKube

/// Values printed the way Go's fmt prints them into kube-apiserver's messages: `%+v` of a
/// decoded JSON value (`map[spec:map[replicas:2]]`, keys sorted) and `%q` of a string.
enum GoFormat {
    static func value(_ value: JSONValue) -> String {
        switch value {
        case .null: return "<nil>"
        case .bool(let b): return b ? "true" : "false"
        case .int(let i): return String(i)
        case .double(let d): return float(d)
        case .string(let s): return s
        case .array(let items): return "[" + items.map(Self.value).joined(separator: " ") + "]"
        case .object(let members):
            return "map[" + members.keys.sorted().map { "\($0):\(Self.value(members[$0]!))" }.joined(separator: " ") + "]"
        }
    }

    /// `%v` of a float64: the shortest representation, with an exponent from 1e21 on.
    static func float(_ d: Double) -> String {
        if d == d.rounded(), abs(d) < 1e21 { return String(Int64(d)) }
        let text = "\(d)"
        guard let e = text.firstIndex(where: { $0 == "e" || $0 == "E" }) else { return text }
        let mantissa = text[..<e]
        var exponent = String(text[text.index(after: e)...])
        let sign = exponent.hasPrefix("-") ? "-" : "+"
        exponent = exponent.trimmingCharacters(in: "+-")
        return "\(mantissa)e\(sign)\(exponent.count < 2 ? "0" + exponent : exponent)"
    }

    /// `%q`: double-quoted with Go escapes.
    static func quoted(_ text: String) -> String {
        var out = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\t": out += "\\t"
            case "\r": out += "\\r"
            default:
                if scalar.value < 0x20 || scalar.value == 0x7F {
                    out += "\\x" + String(scalar.value, radix: 16).leftPad(2)
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        return out + "\""
    }
}
