import CCurl
import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// Why a WebSocket could not be opened or broke.
public enum WebSocketError: Error, Sendable, CustomStringConvertible {
    /// The connection (TCP, TLS) failed.
    case transport(HTTPError)
    /// The server answered the upgrade request with another status (an API error, say).
    case rejected(status: Int, headers: HTTPHeaders, body: [UInt8])
    /// The server broke RFC 6455 (a bad accept key, a masked frame, an unknown opcode).
    case protocolViolation(String)
    /// The connection ended before a close frame.
    case closedUnexpectedly
    /// The deadline passed.
    case timedOut
    /// The task waiting was cancelled.
    case cancelled

    public var description: String {
        switch self {
        case .transport(let error): return error.description
        case .rejected(let status, _, let body):
            return "upgrade refused: HTTP \(status): \(String(decoding: body.prefix(300), as: UTF8.self))"
        case .protocolViolation(let detail): return "WebSocket protocol violation: \(detail)"
        case .closedUnexpectedly: return "the WebSocket connection closed without a close frame"
        case .timedOut: return "timed out"
        case .cancelled: return "cancelled"
        }
    }
}

/// A client WebSocket (RFC 6455) over one libcurl connection: libcurl (7.88, without its own
/// WebSocket support) makes the TCP and TLS connection with the same verification and client
/// identity as `HTTPClient` (`CURLOPT_CONNECT_ONLY`); this type writes the HTTP/1.1 upgrade
/// request and the frames (masked, as a client's must be) with `curl_easy_send` and reads
/// with `curl_easy_recv`. Calls block (each waits at most until `deadline`): one thread uses a
/// connection at a time.
public final class WebSocketConnection: @unchecked Sendable {
    /// One message received.
    public enum Message: Sendable, Equatable {
        case binary([UInt8])
        case text(String)
        /// The peer closed (its status code, when it gave one); the close was answered.
        case close(code: UInt16?)
    }

    private let easy: EasyHandle
    private let url: String
    private var buffer: [UInt8] = []
    private var closeSent = false
    /// Calls give up after this instant.
    public var deadline: ContinuousClock.Instant
    /// Checked while waiting: true stops the wait with `.cancelled`.
    public var isCancelled: @Sendable () -> Bool = { false }
    /// The subprotocol the server chose (`Sec-WebSocket-Protocol`).
    public private(set) var subprotocol = ""

    private init(easy: EasyHandle, url: String, deadline: ContinuousClock.Instant) {
        self.easy = easy
        self.url = url
        self.deadline = deadline
    }

    /// Connects to `url` (`https://host:port/path?query`, or `http://`) and upgrades: `headers`
    /// (Authorization, say) go with the upgrade request, `protocols` are offered in order.
    public static func connect(
        url: String, headers: HTTPHeaders = HTTPHeaders(), protocols: [String] = [], tls: HTTPTLSConfiguration = .default,
        connectTimeout: Duration = .seconds(30), deadline: ContinuousClock.Instant, isCancelled: @escaping @Sendable () -> Bool = { false }
    ) throws(WebSocketError) -> WebSocketConnection {
        guard let easy = EasyHandle() else { throw .transport(.invalidRequest("curl_easy_init failed")) }
        let connection = WebSocketConnection(easy: easy, url: url, deadline: deadline)
        connection.isCancelled = isCancelled
        do throws(HTTPError) {
            try easy.set(CURLOPT_URL, url)
            try easy.set(CURLOPT_CONNECT_ONLY, 1)
            try easy.set(CURLOPT_NOSIGNAL, true)
            try easy.set(CURLOPT_ERRORBUFFER, pointer: UnsafeMutableRawPointer(easy.errorBuffer))
            try easy.set(CURLOPT_CONNECTTIMEOUT_MS, Int(connectTimeout.components.seconds * 1000))
            try easy.apply(tls)
        } catch {
            throw .transport(error)
        }
        let code = curl_easy_perform(easy.handle)
        guard code == CURLE_OK else { throw .transport(connection.transportError(code)) }
        try connection.upgrade(headers: headers, protocols: protocols)
        return connection
    }

    // MARK: Upgrade

    private func upgrade(headers: HTTPHeaders, protocols: [String]) throws(WebSocketError) {
        let (host, target) = Self.split(url)
        var keyBytes = [UInt8](repeating: 0, count: 16)
        for index in keyBytes.indices { keyBytes[index] = UInt8.random(in: 0...255) }
        let key = Data(keyBytes).base64EncodedString()
        var request = "GET \(target) HTTP/1.1\r\nHost: \(host)\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        request += "Sec-WebSocket-Key: \(key)\r\nSec-WebSocket-Version: 13\r\n"
        if !protocols.isEmpty { request += "Sec-WebSocket-Protocol: \(protocols.joined(separator: ", "))\r\n" }
        for (name, value) in headers {
            guard !name.contains("\r") && !name.contains("\n") && !value.contains("\r") && !value.contains("\n") else {
                throw .transport(.invalidRequest("header \(name) contains a line break"))
            }
            request += "\(name): \(value)\r\n"
        }
        request += "\r\n"
        try write(Array(request.utf8))
        // The response head, then (when it is not 101) its body.
        var end: Int?
        while end == nil {
            try fill()
            end = Self.find([13, 10, 13, 10], in: buffer)
        }
        let head = String(decoding: buffer[..<end!], as: UTF8.self)
        buffer.removeFirst(end! + 4)
        let lines = head.components(separatedBy: "\r\n")
        let statusParts = lines[0].split(separator: " ", maxSplits: 2)
        guard statusParts.count >= 2, let status = Int(statusParts[1]) else {
            throw .protocolViolation("not an HTTP response: \(lines[0])")
        }
        var response = HTTPHeaders()
        for line in lines.dropFirst() {
            guard let colon = line.firstIndex(of: ":") else { continue }
            response.add(String(line[..<colon]), String(line[line.index(after: colon)...]).trimmingCharacters(in: .whitespaces))
        }
        guard status == 101 else {
            let length = Int(response["Content-Length"] ?? "") ?? 0
            while buffer.count < min(length, 1 << 20) {
                do { try fill() } catch { break }
            }
            throw .rejected(status: status, headers: response, body: Array(buffer.prefix(length)))
        }
        guard response["Upgrade"]?.lowercased() == "websocket" else {
            throw .protocolViolation("the 101 response does not upgrade to websocket")
        }
        let expected = Data(SHA1.hash(Array((key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11").utf8))).base64EncodedString()
        guard response["Sec-WebSocket-Accept"] == expected else { throw .protocolViolation("wrong Sec-WebSocket-Accept") }
        subprotocol = response["Sec-WebSocket-Protocol"] ?? ""
        if !protocols.isEmpty && !protocols.contains(subprotocol) {
            throw .protocolViolation("the server chose subprotocol \"\(subprotocol)\", not one offered")
        }
    }

    /// `host[:port]` and the request target of a URL.
    static func split(_ url: String) -> (host: String, target: String) {
        guard let scheme = url.range(of: "://") else { return ("", url) }
        let rest = url[scheme.upperBound...]
        let slash = rest.firstIndex(where: { $0 == "/" || $0 == "?" }) ?? rest.endIndex
        var target = String(rest[slash...])
        if target.hasPrefix("?") { target = "/" + target }
        return (String(rest[..<slash]), target.isEmpty ? "/" : target)
    }

    static func find(_ needle: [UInt8], in haystack: [UInt8]) -> Int? {
        guard haystack.count >= needle.count else { return nil }
        for start in 0...(haystack.count - needle.count) where haystack[start..<start + needle.count].elementsEqual(needle) {
            return start
        }
        return nil
    }

    // MARK: Frames

    /// Sends one binary message.
    public func send(binary payload: [UInt8]) throws(WebSocketError) {
        try sendFrame(opcode: 0x2, payload)
    }

    /// Sends a close frame (normal closure) unless one was sent.
    public func close(code: UInt16 = 1000) {
        guard !closeSent else { return }
        closeSent = true
        try? sendFrame(opcode: 0x8, [UInt8(code >> 8), UInt8(code & 0xff)])
    }

    private func sendFrame(opcode: UInt8, _ payload: [UInt8]) throws(WebSocketError) {
        var frame: [UInt8] = [0x80 | opcode]
        switch payload.count {
        case ..<126: frame.append(0x80 | UInt8(payload.count))
        case ..<65536: frame += [0x80 | 126, UInt8(payload.count >> 8), UInt8(payload.count & 0xff)]
        default:
            frame.append(0x80 | 127)
            for shift in stride(from: 56, through: 0, by: -8) { frame.append(UInt8((UInt64(payload.count) >> UInt64(shift)) & 0xff)) }
        }
        let mask = (0..<4).map { _ in UInt8.random(in: 0...255) }
        frame += mask
        frame += payload.enumerated().map { $0.element ^ mask[$0.offset & 3] }
        try write(frame)
    }

    /// The next message: pings are answered and fragments joined on the way.
    public func receive() throws(WebSocketError) -> Message {
        var message: [UInt8] = []
        var messageOpcode: UInt8?
        while true {
            let (fin, opcode, payload) = try readFrame()
            switch opcode {
            case 0x9:
                try sendFrame(opcode: 0xA, payload)
            case 0xA:
                continue
            case 0x8:
                let code = payload.count >= 2 ? UInt16(payload[0]) << 8 | UInt16(payload[1]) : nil
                if !closeSent {
                    closeSent = true
                    try? sendFrame(opcode: 0x8, payload.count >= 2 ? Array(payload.prefix(2)) : [])
                }
                return .close(code: code)
            case 0x0, 0x1, 0x2:
                if opcode != 0 {
                    guard messageOpcode == nil else { throw .protocolViolation("a new message inside a fragmented one") }
                    messageOpcode = opcode
                } else if messageOpcode == nil {
                    throw .protocolViolation("a continuation frame without a message")
                }
                message += payload
                guard fin else { continue }
                return messageOpcode == 0x1 ? .text(String(decoding: message, as: UTF8.self)) : .binary(message)
            default:
                throw .protocolViolation("unknown opcode \(opcode)")
            }
        }
    }

    private func readFrame() throws(WebSocketError) -> (fin: Bool, opcode: UInt8, payload: [UInt8]) {
        try need(2)
        let first = buffer[0]
        let second = buffer[1]
        guard second & 0x80 == 0 else { throw .protocolViolation("a masked frame from the server") }
        var length = Int(second & 0x7f)
        var headerLength = 2
        if length == 126 {
            try need(4)
            length = Int(buffer[2]) << 8 | Int(buffer[3])
            headerLength = 4
        } else if length == 127 {
            try need(10)
            var value: UInt64 = 0
            for index in 2..<10 { value = value << 8 | UInt64(buffer[index]) }
            guard value < 1 << 30 else { throw .protocolViolation("a frame of \(value) bytes") }
            length = Int(value)
            headerLength = 10
        }
        try need(headerLength + length)
        let payload = Array(buffer[headerLength..<headerLength + length])
        buffer.removeFirst(headerLength + length)
        return (first & 0x80 != 0, first & 0x0f, payload)
    }

    private func need(_ count: Int) throws(WebSocketError) {
        while buffer.count < count { try fill() }
    }

    // MARK: The connection

    /// Reads what the connection has, waiting for it until the deadline.
    private func fill() throws(WebSocketError) {
        var chunk = [UInt8](repeating: 0, count: 64 << 10)
        while true {
            var received = 0
            let code = chunk.withUnsafeMutableBytes { curl_easy_recv(easy.handle, $0.baseAddress, $0.count, &received) }
            if code == CURLE_OK {
                guard received > 0 else { throw .closedUnexpectedly }
                buffer += chunk[..<received]
                return
            }
            guard code == CURLE_AGAIN else { throw .transport(transportError(code)) }
            try wait(forWriting: false)
        }
    }

    private func write(_ bytes: [UInt8]) throws(WebSocketError) {
        var offset = 0
        while offset < bytes.count {
            var sent = 0
            let code = bytes.withUnsafeBytes { curl_easy_send(easy.handle, $0.baseAddress! + offset, bytes.count - offset, &sent) }
            if code == CURLE_OK {
                offset += sent
                continue
            }
            guard code == CURLE_AGAIN else { throw .transport(transportError(code)) }
            try wait(forWriting: true)
        }
    }

    private func wait(forWriting: Bool) throws(WebSocketError) {
        var socket: curl_socket_t = -1
        _ = ferry_curl_easy_getinfo_socket(easy.handle, &socket)
        guard socket >= 0 else { throw .closedUnexpectedly }
        while true {
            if isCancelled() { throw .cancelled }
            let left = deadline - ContinuousClock.now
            guard left > .zero else { throw .timedOut }
            var descriptor = pollfd(fd: socket, events: Int16(forWriting ? POLLOUT : POLLIN), revents: 0)
            let milliseconds = Int32(min(100, max(1, left.components.seconds * 1000 + left.components.attoseconds / 1_000_000_000_000_000)))
            let ready = poll(&descriptor, 1, milliseconds)
            if ready > 0 { return }
            if ready < 0 && errno != EINTR { throw .closedUnexpectedly }
        }
    }

    private func transportError(_ code: CURLcode) -> HTTPError {
        let buffered = easy.errorMessage
        let message = buffered.isEmpty ? String(cString: curl_easy_strerror(code)) : buffered
        switch code {
        case CURLE_COULDNT_CONNECT:
            return Int32(easy.info(CURLINFO_OS_ERRNO)) == ECONNREFUSED
                ? .connectionRefused(url: url) : .connectionFailed(url: url, detail: message)
        case CURLE_COULDNT_RESOLVE_HOST: return .couldNotResolve(host: CurlErrors.host(of: url), url: url)
        case CURLE_OPERATION_TIMEDOUT: return .timedOut(url: url, detail: message)
        case CURLE_PEER_FAILED_VERIFICATION: return .tlsVerificationFailed(url: url, detail: message)
        case CURLE_SSL_CONNECT_ERROR: return .tlsHandshakeFailed(url: url, detail: message)
        case CURLE_SSL_CERTPROBLEM, CURLE_SSL_CACERT_BADFILE: return .tlsConfiguration(detail: message)
        case CURLE_UNSUPPORTED_PROTOCOL, CURLE_URL_MALFORMAT: return .invalidRequest("\(url): \(message)")
        default: return .connectionReset(url: url, detail: message)
        }
    }
}

/// SHA-1 (FIPS 180-4), for the WebSocket accept key only.
enum SHA1 {
    static func hash(_ message: [UInt8]) -> [UInt8] {
        var h: [UInt32] = [0x6745_2301, 0xEFCD_AB89, 0x98BA_DCFE, 0x1032_5476, 0xC3D2_E1F0]
        var data = message
        let bitLength = UInt64(message.count) * 8
        data.append(0x80)
        while data.count % 64 != 56 { data.append(0) }
        for shift in stride(from: 56, through: 0, by: -8) { data.append(UInt8((bitLength >> UInt64(shift)) & 0xff)) }
        var w = [UInt32](repeating: 0, count: 80)
        for chunk in stride(from: 0, to: data.count, by: 64) {
            for i in 0..<16 {
                w[i] =
                    UInt32(data[chunk + 4 * i]) << 24 | UInt32(data[chunk + 4 * i + 1]) << 16 | UInt32(data[chunk + 4 * i + 2]) << 8
                    | UInt32(data[chunk + 4 * i + 3])
            }
            for i in 16..<80 {
                let x = w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16]
                w[i] = x << 1 | x >> 31
            }
            var (a, b, c, d, e) = (h[0], h[1], h[2], h[3], h[4])
            for i in 0..<80 {
                let (f, k): (UInt32, UInt32)
                switch i {
                case 0..<20: (f, k) = ((b & c) | (~b & d), 0x5A82_7999)
                case 20..<40: (f, k) = (b ^ c ^ d, 0x6ED9_EBA1)
                case 40..<60: (f, k) = ((b & c) | (b & d) | (c & d), 0x8F1B_BCDC)
                default: (f, k) = (b ^ c ^ d, 0xCA62_C1D6)
                }
                let temp = (a << 5 | a >> 27) &+ f &+ e &+ k &+ w[i]
                (e, d, c, b, a) = (d, c, b << 30 | b >> 2, a, temp)
            }
            h[0] = h[0] &+ a
            h[1] = h[1] &+ b
            h[2] = h[2] &+ c
            h[3] = h[3] &+ d
            h[4] = h[4] &+ e
        }
        return h.flatMap { value in [24, 16, 8, 0].map { UInt8((value >> UInt32($0)) & 0xff) } }
    }
}
