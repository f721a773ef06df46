/// An element of an XML document: enough for S3's responses (ListBucketResult, Error,
/// InitiateMultipartUploadResult, DeleteResult, STS responses).
struct XMLElement: Sendable {
    var name: String
    var text = ""
    var children: [XMLElement] = []

    func child(_ name: String) -> XMLElement? {
        children.first { $0.name == name }
    }

    func all(_ name: String) -> [XMLElement] {
        children.filter { $0.name == name }
    }

    /// Text of the descendant at `path` ("Credentials", "AccessKeyId").
    func text(_ path: String...) -> String? {
        var node = self
        for name in path {
            guard let next = node.child(name) else { return nil }
            node = next
        }
        return node.text
    }
}

/// A small, strict XML reader and text escaper.
enum S3XML {
    struct ParseError: Error, CustomStringConvertible {
        var detail: String
        var description: String { "malformed XML: \(detail)" }
    }

    static func parse(_ bytes: [UInt8]) throws(ParseError) -> XMLElement {
        var stack: [XMLElement] = []
        var root: XMLElement?
        var index = 0
        let count = bytes.count

        func startsWith(_ text: String, at position: Int) -> Bool {
            let pattern = Array(text.utf8)
            guard position + pattern.count <= count else { return false }
            for offset in 0..<pattern.count where bytes[position + offset] != pattern[offset] { return false }
            return true
        }
        func find(_ text: String, from position: Int) -> Int? {
            var position = position
            while position < count {
                if startsWith(text, at: position) { return position }
                position += 1
            }
            return nil
        }

        while index < count {
            if bytes[index] != UInt8(ascii: "<") {
                let end = bytes[index...].firstIndex(of: UInt8(ascii: "<")) ?? count
                if !stack.isEmpty {
                    stack[stack.count - 1].text += try decodeEntities(bytes[index..<end])
                }
                index = end
                continue
            }
            if startsWith("<?", at: index) {
                guard let end = find("?>", from: index) else { throw ParseError(detail: "unterminated processing instruction") }
                index = end + 2
            } else if startsWith("<!--", at: index) {
                guard let end = find("-->", from: index) else { throw ParseError(detail: "unterminated comment") }
                index = end + 3
            } else if startsWith("<![CDATA[", at: index) {
                guard let end = find("]]>", from: index) else { throw ParseError(detail: "unterminated CDATA") }
                if !stack.isEmpty {
                    stack[stack.count - 1].text += String(decoding: bytes[(index + 9)..<end], as: UTF8.self)
                }
                index = end + 3
            } else if startsWith("<!", at: index) {
                guard let end = bytes[index...].firstIndex(of: UInt8(ascii: ">")) else {
                    throw ParseError(detail: "unterminated declaration")
                }
                index = end + 1
            } else if startsWith("</", at: index) {
                guard let end = bytes[index...].firstIndex(of: UInt8(ascii: ">")) else { throw ParseError(detail: "unterminated end tag") }
                let name = localName(String(decoding: bytes[(index + 2)..<end], as: UTF8.self).trimmingWhitespace())
                guard let element = stack.popLast(), element.name == name else {
                    throw ParseError(detail: "unexpected end tag </\(name)>")
                }
                if stack.isEmpty {
                    root = element
                } else {
                    stack[stack.count - 1].children.append(element)
                }
                index = end + 1
            } else {
                guard let end = bytes[index...].firstIndex(of: UInt8(ascii: ">")) else { throw ParseError(detail: "unterminated tag") }
                let selfClosing = bytes[end - 1] == UInt8(ascii: "/")
                let inner = bytes[(index + 1)..<(selfClosing ? end - 1 : end)]
                let nameEnd = inner.firstIndex { $0 == 0x20 || $0 == 0x09 || $0 == 0x0A || $0 == 0x0D } ?? inner.endIndex
                let name = localName(String(decoding: inner[inner.startIndex..<nameEnd], as: UTF8.self))
                guard !name.isEmpty else { throw ParseError(detail: "empty tag name") }
                let element = XMLElement(name: name)
                if selfClosing {
                    if stack.isEmpty { root = element } else { stack[stack.count - 1].children.append(element) }
                } else {
                    stack.append(element)
                }
                index = end + 1
            }
        }
        guard stack.isEmpty, let root else { throw ParseError(detail: root == nil ? "no root element" : "unclosed <\(stack.last!.name)>") }
        return root
    }

    private static func localName(_ name: String) -> String {
        guard let colon = name.lastIndex(of: ":") else { return name }
        return String(name[name.index(after: colon)...])
    }

    private static func decodeEntities(_ bytes: ArraySlice<UInt8>) throws(ParseError) -> String {
        guard bytes.contains(UInt8(ascii: "&")) else { return String(decoding: bytes, as: UTF8.self) }
        var out = [UInt8]()
        var index = bytes.startIndex
        while index < bytes.endIndex {
            let byte = bytes[index]
            guard byte == UInt8(ascii: "&") else {
                out.append(byte)
                index += 1
                continue
            }
            guard let semicolon = bytes[index...].firstIndex(of: UInt8(ascii: ";")) else { throw ParseError(detail: "unterminated entity") }
            let entity = String(decoding: bytes[(index + 1)..<semicolon], as: UTF8.self)
            switch entity {
            case "amp": out.append(UInt8(ascii: "&"))
            case "lt": out.append(UInt8(ascii: "<"))
            case "gt": out.append(UInt8(ascii: ">"))
            case "quot": out.append(UInt8(ascii: "\""))
            case "apos": out.append(UInt8(ascii: "'"))
            default:
                let scalar: UInt32?
                if entity.hasPrefix("#x") || entity.hasPrefix("#X") {
                    scalar = UInt32(entity.dropFirst(2), radix: 16)
                } else if entity.hasPrefix("#") {
                    scalar = UInt32(entity.dropFirst())
                } else {
                    scalar = nil
                }
                guard let scalar, let unicode = Unicode.Scalar(scalar) else { throw ParseError(detail: "unknown entity &\(entity);") }
                out += Array(String(Character(unicode)).utf8)
            }
            index = semicolon + 1
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// Text made safe for XML element content and attribute values.
    static func escape(_ text: String) -> String {
        var out = ""
        out.reserveCapacity(text.utf8.count)
        for character in text {
            switch character {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&apos;"
            default: out.append(character)
            }
        }
        return out
    }
}

extension String {
    func trimmingWhitespace() -> String {
        var slice = Substring(self)
        while let first = slice.first, first.isWhitespace { slice.removeFirst() }
        while let last = slice.last, last.isWhitespace { slice.removeLast() }
        return String(slice)
    }
}
