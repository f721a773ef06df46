import FerryKube

/// One HTTP request as the test server sees it.
public struct APIRequest: Sendable {
    public var method: String
    /// The path, percent-decoded, without the query.
    public var path: String
    public var query: [String: String]
    /// Every value of each query parameter, in order (`command=sh&command=-c` of an exec).
    public var queryValues: [String: [String]] = [:]
    /// Set by the server when it asks whether a WebSocket upgrade (pods/exec) may go ahead.
    var upgrading = false
    /// Header names lowercased.
    public var headers: [String: String]
    public var body: [UInt8]

    public init(method: String, path: String, query: [String: String] = [:], headers: [String: String] = [:], body: [UInt8] = []) {
        self.method = method
        self.path = path
        self.query = query
        self.headers = headers
        self.body = body
    }

    /// Splits a request target (`/api/v1/pods?limit=5`) into path and query.
    public init(method: String, target: String, headers: [String: String], body: [UInt8]) {
        var path = target
        var query: [String: String] = [:]
        var values: [String: [String]] = [:]
        if let q = target.firstIndex(of: "?") {
            path = String(target[..<q])
            for pair in target[target.index(after: q)...].split(separator: "&") {
                let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
                let key = Self.percentDecode(String(parts[0]), plusIsSpace: true)
                let value = parts.count > 1 ? Self.percentDecode(String(parts[1]), plusIsSpace: true) : ""
                query[key] = value
                values[key, default: []].append(value)
            }
        }
        self.init(method: method, path: Self.percentDecode(path, plusIsSpace: false), query: query, headers: headers, body: body)
        self.queryValues = values
    }

    static func percentDecode(_ text: String, plusIsSpace: Bool) -> String {
        var bytes: [UInt8] = []
        var utf8 = Array(text.utf8)[...]
        while let byte = utf8.popFirst() {
            if byte == UInt8(ascii: "%"), utf8.count >= 2,
                let value = UInt8(String(decoding: utf8.prefix(2), as: UTF8.self), radix: 16)
            {
                bytes.append(value)
                utf8 = utf8.dropFirst(2)
            } else if byte == UInt8(ascii: "+") && plusIsSpace {
                bytes.append(UInt8(ascii: " "))
            } else {
                bytes.append(byte)
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// The media type of the body, without parameters, lowercased.
    public var contentType: String {
        let raw = headers["content-type"] ?? ""
        return raw.split(separator: ";").first.map { String($0).trimmingCharacters(in: " ").lowercased() } ?? ""
    }

    public var accept: String { headers["accept"] ?? "" }
}

/// What the server answers: a complete body, or a stream of watch events.
enum APIResponse: Sendable {
    case body(status: Int, contentType: String, body: [UInt8], headers: [(String, String)])
    case watch(WatchStream)
    /// A pods/exec request that may switch to WebSocket (only answered to `upgrading` requests).
    case upgrade(ExecSession)

    static func json(_ status: Int, _ value: JSONValue, headers: [(String, String)] = []) -> APIResponse {
        var body = value.serialized()
        body.append(UInt8(ascii: "\n"))
        return .body(status: status, contentType: "application/json", body: body, headers: headers)
    }

    static func status(_ status: APIStatus) -> APIResponse {
        var headers: [(String, String)] = []
        if let retry = status.retryAfterSeconds { headers.append(("Retry-After", String(retry))) }
        return .json(status.code, status.json, headers: headers)
    }

    static func text(_ status: Int, _ text: String) -> APIResponse {
        .body(status: status, contentType: "text/plain; charset=utf-8", body: Array(text.utf8), headers: [])
    }
}

/// A watch in progress: the events already due (replayed history or synthetic ADDED events),
/// then live ones until the watch ends.
struct WatchStream: Sendable {
    var initial: [JSONValue]
    var live: AsyncStream<JSONValue>
    var timeoutSeconds: Int?
    var onEnd: @Sendable () async -> Void
    /// Ends the live stream when `timeoutSeconds` have passed, after a BOOKMARK when the client
    /// allowed them (kube-apiserver's watch cache sends one just before a watch times out, so a
    /// client resumes from a recent resourceVersion however long the watched kind was quiet).
    var onTimeout: @Sendable () async -> Void = {}
    /// Set when the client asked for Tables: each event's object becomes one.
    var table: TableRenderer? = nil
}

extension String {
    func trimmingCharacters(in set: String) -> String {
        var s = Substring(self)
        while let f = s.first, set.contains(f) { s = s.dropFirst() }
        while let l = s.last, set.contains(l) { s = s.dropLast() }
        return String(s)
    }
}
