import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// A blocking TCP socket with a read buffer, for the test servers (loopback HTTP server, fault
/// proxy, STS stand-in). Reads and writes loop until done.
public final class Socket: @unchecked Sendable {
    public let fd: Int32
    private var buffer: [UInt8] = []
    private var start = 0
    private let closed = NSLock()
    private var isClosed = false

    init(fd: Int32) {
        self.fd = fd
        var one: Int32 = 1
        setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
    }

    deinit {
        close()
    }

    /// Connects to 127.0.0.1:`port`.
    public static func connect(port: Int) throws -> Socket {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw TestServerError.system("socket", errno) }
        var address = sockaddr_in.loopback(port: port)
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard result == 0 else {
            let code = errno
            Glibc.close(fd)
            throw TestServerError.system("connect to port \(port)", code)
        }
        return Socket(fd: fd)
    }

    public func close() {
        closed.lock()
        defer { closed.unlock() }
        if !isClosed {
            isClosed = true
            Glibc.close(fd)
        }
    }

    /// Closes with a TCP reset instead of an orderly shutdown.
    public func reset() {
        var linger = Glibc.linger(l_onoff: 1, l_linger: 0)
        setsockopt(fd, SOL_SOCKET, SO_LINGER, &linger, socklen_t(MemoryLayout<Glibc.linger>.size))
        close()
    }

    /// Stops further writes (the peer reads EOF) while reads still work.
    public func shutdownWrite() {
        Glibc.shutdown(fd, Int32(SHUT_WR))
    }

    public func write(_ bytes: [UInt8]) throws {
        try bytes.withUnsafeBytes { raw in
            var offset = 0
            while offset < raw.count {
                let n = send(fd, raw.baseAddress! + offset, raw.count - offset, Int32(MSG_NOSIGNAL))
                if n < 0 {
                    if errno == EINTR { continue }
                    throw TestServerError.system("send", errno)
                }
                offset += n
            }
        }
    }

    public func write(_ text: String) throws {
        try write(Array(text.utf8))
    }

    /// Fills the buffer; false at EOF.
    private func fill() throws -> Bool {
        if start > 0 && start == buffer.count {
            buffer.removeAll(keepingCapacity: true)
            start = 0
        }
        var chunk = [UInt8](repeating: 0, count: 256 << 10)
        while true {
            let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n < 0 {
                if errno == EINTR { continue }
                if errno == ECONNRESET { return false }
                throw TestServerError.system("recv", errno)
            }
            if n == 0 { return false }
            buffer.append(contentsOf: chunk[..<n])
            return true
        }
    }

    /// A line without its CRLF, or nil at EOF.
    public func readLine() throws -> String? {
        while true {
            if let newline = buffer[start...].firstIndex(of: UInt8(ascii: "\n")) {
                var line = Array(buffer[start..<newline])
                start = newline + 1
                if line.last == UInt8(ascii: "\r") { line.removeLast() }
                return String(decoding: line, as: UTF8.self)
            }
            if try !fill() { return nil }
        }
    }

    /// Exactly `count` bytes, or nil when the connection ends first.
    public func read(exactly count: Int) throws -> [UInt8]? {
        while buffer.count - start < count {
            if try !fill() { return nil }
        }
        let bytes = Array(buffer[start..<start + count])
        start += count
        return bytes
    }

    /// Everything until the peer closes.
    public func readToEnd() throws -> [UInt8] {
        while try fill() {}
        let bytes = Array(buffer[start...])
        start = buffer.count
        return bytes
    }
}

/// Why a test server could not do its job.
public enum TestServerError: Error, CustomStringConvertible {
    case system(String, Int32)
    case protocolError(String)
    case timeout(String)
    case setup(String)

    public var description: String {
        switch self {
        case let .system(what, code): "\(what): \(String(cString: strerror(code)))"
        case let .protocolError(detail): "HTTP protocol error: \(detail)"
        case let .timeout(detail): "timed out: \(detail)"
        case let .setup(detail): detail
        }
    }
}

extension sockaddr_in {
    static func loopback(port: Int) -> sockaddr_in {
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        return address
    }
}

/// A listening socket on 127.0.0.1 with a port the kernel picked (or the one given).
public final class Listener: @unchecked Sendable {
    public let fd: Int32
    public let port: Int

    public init(port: Int = 0) throws {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw TestServerError.system("socket", errno) }
        var one: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        var address = sockaddr_in.loopback(port: port)
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0, listen(fd, 128) == 0 else {
            let code = errno
            Glibc.close(fd)
            throw TestServerError.system("bind/listen on 127.0.0.1:\(port)", code)
        }
        var actual = sockaddr_in()
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &actual) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        self.fd = fd
        self.port = Int(UInt16(bigEndian: actual.sin_port))
    }

    /// The next connection, or nil once the listener is closed.
    public func accept() -> Socket? {
        while true {
            let client = Glibc.accept(fd, nil, nil)
            if client >= 0 { return Socket(fd: client) }
            if errno == EINTR || errno == ECONNABORTED { continue }
            return nil
        }
    }

    public func close() {
        Glibc.shutdown(fd, Int32(SHUT_RDWR))
        Glibc.close(fd)
    }
}

/// Ports that are free right now on 127.0.0.1 (for servers that take a port number, like weed).
public enum FreePort {
    /// A port the kernel picks.
    public static func find() throws -> Int {
        let probe = try Listener()
        defer { probe.close() }
        return probe.port
    }

    /// A port in 20000..<30000 that is free now together with `port + offset` for each offset
    /// (weed listens for gRPC on its HTTP port + 10000).
    public static func find(alsoFree offsets: [Int]) throws -> Int {
        for _ in 0..<200 {
            let port = Int.random(in: 20000..<30000)
            var held: [Listener] = []
            defer { for listener in held { listener.close() } }
            guard let first = try? Listener(port: port) else { continue }
            held.append(first)
            var ok = true
            for offset in offsets {
                guard let other = try? Listener(port: port + offset) else {
                    ok = false
                    break
                }
                held.append(other)
            }
            if ok { return port }
        }
        throw TestServerError.setup("no free port pair found on 127.0.0.1")
    }
}
