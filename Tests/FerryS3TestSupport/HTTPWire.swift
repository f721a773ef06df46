/// HTTP/1.1 messages as the test servers read and write them.
public struct WireRequest: Sendable {
    public var method: String
    /// Path and query, as sent ("/bucket/key?uploads").
    public var target: String
    public var headers: [(name: String, value: String)]
    public var body: [UInt8]

    public init(method: String, target: String, headers: [(name: String, value: String)] = [], body: [UInt8] = []) {
        self.method = method
        self.target = target
        self.headers = headers
        self.body = body
    }

    public func header(_ name: String) -> String? {
        headers.first { $0.name.lowercased() == name.lowercased() }?.value
    }

    public var path: String {
        String(target.prefix { $0 != "?" })
    }

    public var query: String {
        guard let mark = target.firstIndex(of: "?") else { return "" }
        return String(target[target.index(after: mark)...])
    }

    /// Reads one request; nil when the connection closed cleanly before it. Answers
    /// `Expect: 100-continue` itself before reading the body.
    public static func read(from socket: Socket) throws -> WireRequest? {
        guard let line = try socket.readLine() else { return nil }
        if line.isEmpty { return try read(from: socket) }
        let parts = line.split(separator: " ")
        guard parts.count == 3 else { throw TestServerError.protocolError("bad request line \"\(line)\"") }
        let headers = try readHeaders(from: socket)
        var request = WireRequest(method: String(parts[0]), target: String(parts[1]), headers: headers)
        if request.header("Expect")?.lowercased() == "100-continue" {
            try socket.write("HTTP/1.1 100 Continue\r\n\r\n")
            request.headers.removeAll { $0.name.lowercased() == "expect" }
        }
        request.body = try readBody(from: socket, headers: headers, untilClose: false) ?? []
        return request
    }

    /// The request as bytes on the wire, with Content-Length for its body.
    public func serialized() -> [UInt8] {
        var text = "\(method) \(target) HTTP/1.1\r\n"
        for (name, value) in headers where !["content-length", "transfer-encoding"].contains(name.lowercased()) {
            text += "\(name): \(value)\r\n"
        }
        if !body.isEmpty || ["PUT", "POST"].contains(method) { text += "Content-Length: \(body.count)\r\n" }
        text += "\r\n"
        return Array(text.utf8) + body
    }
}

public struct WireResponse: Sendable {
    public var status: Int
    public var reason: String
    public var headers: [(name: String, value: String)]
    public var body: [UInt8]

    public init(status: Int, reason: String? = nil, headers: [(name: String, value: String)] = [], body: [UInt8] = []) {
        self.status = status
        self.reason = reason ?? WireResponse.reasonPhrase(status)
        self.headers = headers
        self.body = body
    }

    public func header(_ name: String) -> String? {
        headers.first { $0.name.lowercased() == name.lowercased() }?.value
    }

    /// Reads one response. `headRequest` responses have no body whatever their headers say.
    public static func read(from socket: Socket, headRequest: Bool) throws -> WireResponse {
        var statusLine: String
        repeat {
            guard let line = try socket.readLine() else {
                throw TestServerError.protocolError("connection closed before a response")
            }
            statusLine = line
            if statusLine.hasPrefix("HTTP/1.1 1") { _ = try readHeaders(from: socket) }
        } while statusLine.hasPrefix("HTTP/1.1 1") || statusLine.isEmpty
        let parts = statusLine.split(separator: " ", maxSplits: 2)
        guard parts.count >= 2, let status = Int(parts[1]) else {
            throw TestServerError.protocolError("bad status line \"\(statusLine)\"")
        }
        let headers = try readHeaders(from: socket)
        var response = WireResponse(status: status, reason: parts.count > 2 ? String(parts[2]) : "", headers: headers)
        if !headRequest && status != 204 && status != 304 {
            response.body = try readBody(from: socket, headers: headers, untilClose: true) ?? []
        }
        return response
    }

    /// The response as bytes on the wire. Content-Length is the body's length unless `headers`
    /// already say (a HEAD response announces the object's size).
    public func serialized(keepAlive: Bool = true) -> [UInt8] {
        var text = "HTTP/1.1 \(status) \(reason)\r\n"
        var hasLength = false
        for (name, value) in headers {
            let lower = name.lowercased()
            if lower == "transfer-encoding" || lower == "connection" { continue }
            if lower == "content-length" { hasLength = true }
            text += "\(name): \(value)\r\n"
        }
        if !hasLength { text += "Content-Length: \(body.count)\r\n" }
        if !keepAlive { text += "Connection: close\r\n" }
        text += "\r\n"
        return Array(text.utf8) + body
    }

    static func reasonPhrase(_ status: Int) -> String {
        switch status {
        case 200: "OK"
        case 204: "No Content"
        case 206: "Partial Content"
        case 400: "Bad Request"
        case 403: "Forbidden"
        case 404: "Not Found"
        case 412: "Precondition Failed"
        case 500: "Internal Server Error"
        case 503: "Service Unavailable"
        default: "Status"
        }
    }
}

func readHeaders(from socket: Socket) throws -> [(name: String, value: String)] {
    var headers: [(name: String, value: String)] = []
    while true {
        guard let line = try socket.readLine() else { throw TestServerError.protocolError("connection closed in headers") }
        if line.isEmpty { return headers }
        guard let colon = line.firstIndex(of: ":") else { throw TestServerError.protocolError("bad header \"\(line)\"") }
        let value = line[line.index(after: colon)...].drop { $0 == " " || $0 == "\t" }
        headers.append((String(line[..<colon]), String(value)))
    }
}

func readBody(from socket: Socket, headers: [(name: String, value: String)], untilClose: Bool) throws -> [UInt8]? {
    func header(_ name: String) -> String? { headers.first { $0.name.lowercased() == name }?.value }
    if header("transfer-encoding")?.lowercased().contains("chunked") == true {
        var body: [UInt8] = []
        while true {
            guard let sizeLine = try socket.readLine() else { throw TestServerError.protocolError("connection closed in a chunked body") }
            let hex = sizeLine.prefix { $0 != ";" }.trimmingCharacters()
            guard let size = Int(hex, radix: 16) else { throw TestServerError.protocolError("bad chunk size \"\(sizeLine)\"") }
            if size == 0 {
                while let trailer = try socket.readLine(), !trailer.isEmpty {}
                return body
            }
            guard let chunk = try socket.read(exactly: size) else { throw TestServerError.protocolError("connection closed in a chunk") }
            body += chunk
            _ = try socket.readLine()
        }
    }
    if let lengthText = header("content-length") {
        guard let length = Int(lengthText) else { throw TestServerError.protocolError("bad Content-Length \"\(lengthText)\"") }
        guard let body = try socket.read(exactly: length) else {
            throw TestServerError.protocolError("connection closed before \(length) body bytes")
        }
        return body
    }
    return untilClose ? try socket.readToEnd() : nil
}

extension Substring {
    func trimmingCharacters() -> String {
        String(drop { $0 == " " }.reversed().drop { $0 == " " }.reversed())
    }
}
