import FerryKube

/// A JSON document as a strict decoder walks it: object members in document order, a name given
/// twice kept twice, each with the byte offset of its name. `JSONValue` keeps one value per name
/// in no order, so it cannot say which fields were duplicated, or in what order they came.
indirect enum OrderedJSON: Sendable {
    struct Member: Sendable {
        var name: String
        var value: OrderedJSON
        var offset: Int
    }

    case object([Member])
    case array([OrderedJSON])
    case scalar

    /// Parses a JSON document; nil when it is not JSON (a YAML body, say).
    init?(parsing bytes: [UInt8]) {
        var scanner = Scanner(bytes: bytes)
        guard let value = scanner.value(depth: 0) else { return nil }
        scanner.skipWhitespace()
        guard scanner.index == bytes.count else { return nil }
        self = value
    }

    /// An already parsed value, its members in name order.
    init(_ value: JSONValue) {
        switch value {
        case .object(let members):
            self = .object(members.keys.sorted().map { Member(name: $0, value: OrderedJSON(members[$0]!), offset: 0) })
        case .array(let items):
            self = .array(items.map(OrderedJSON.init))
        default:
            self = .scalar
        }
    }

    private struct Scanner {
        let bytes: [UInt8]
        var index = 0

        mutating func skipWhitespace() {
            while index < bytes.count, [0x20, 0x09, 0x0A, 0x0D].contains(bytes[index]) { index += 1 }
        }

        mutating func value(depth: Int) -> OrderedJSON? {
            skipWhitespace()
            guard index < bytes.count, depth < JSONValue.maximumNestingDepth else { return nil }
            switch bytes[index] {
            case UInt8(ascii: "{"):
                index += 1
                var members: [Member] = []
                skipWhitespace()
                if index < bytes.count, bytes[index] == UInt8(ascii: "}") {
                    index += 1
                    return .object(members)
                }
                while true {
                    skipWhitespace()
                    let offset = index
                    guard let name = string(), expect(":"), let member = value(depth: depth + 1) else { return nil }
                    members.append(Member(name: name, value: member, offset: offset))
                    skipWhitespace()
                    if expect(",") { continue }
                    return expect("}") ? .object(members) : nil
                }
            case UInt8(ascii: "["):
                index += 1
                var items: [OrderedJSON] = []
                skipWhitespace()
                if index < bytes.count, bytes[index] == UInt8(ascii: "]") {
                    index += 1
                    return .array(items)
                }
                while true {
                    guard let item = value(depth: depth + 1) else { return nil }
                    items.append(item)
                    skipWhitespace()
                    if expect(",") { continue }
                    return expect("]") ? .array(items) : nil
                }
            case UInt8(ascii: "\""):
                return string() == nil ? nil : .scalar
            default:
                let start = index
                while index < bytes.count, !",}] \t\r\n".utf8.contains(bytes[index]) { index += 1 }
                return (try? JSONValue(parsing: bytes[start..<index])) == nil ? nil : .scalar
            }
        }

        mutating func expect(_ character: Character) -> Bool {
            skipWhitespace()
            guard index < bytes.count, bytes[index] == character.asciiValue! else { return false }
            index += 1
            return true
        }

        /// A string token, decoded (escapes resolved).
        mutating func string() -> String? {
            guard index < bytes.count, bytes[index] == UInt8(ascii: "\"") else { return nil }
            let start = index
            index += 1
            while index < bytes.count, bytes[index] != UInt8(ascii: "\"") {
                index += bytes[index] == UInt8(ascii: "\\") ? 2 : 1
            }
            guard index < bytes.count else { return nil }
            index += 1
            return (try? JSONValue(parsing: bytes[start..<index]))?.stringValue
        }
    }
}
