import Foundation
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// Exports volumes read-only over the NBD protocol (fixed newstyle handshake, simple replies) on
/// a loopback TCP port, so QEMU's NBD client (`qemu-img convert nbd://127.0.0.1:PORT/NAME`, a VM's
/// `-drive`) reads a snapshot without a kernel module. Writes are refused with EPERM.
///
/// An export's size is the volume's rounded up to whole 512-byte sectors, the tail reading as
/// zeros: QEMU shows a raw file that way anyway, and its NBD client stalls on an export whose
/// size is not a multiple of 512 (QEMU 7.2).
///
/// Each connection is served by a thread of its own that waits for its reads (which run as
/// tasks) on a semaphore: blocking happens on these threads, never on Swift's cooperative pool.
public final class NBDServer: Sendable {
    public let exports: [String: VolumeReader]
    private let listener: Int32
    public let port: Int
    private let log: MountLog
    private let stopped = Mutex(false)

    /// Binds 127.0.0.1:`port` (0: any free port).
    public init(exports: [String: VolumeReader], port: Int, log: MountLog) throws {
        self.exports = exports
        self.log = log
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw MountError.listen("socket: \(String(cString: strerror(errno)))") }
        var yes: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &yes, socklen_t(MemoryLayout<Int32>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = UInt32(0x7F00_0001).bigEndian
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0, listen(fd, 16) == 0 else {
            let detail = String(cString: strerror(errno))
            close(fd)
            throw MountError.listen("cannot listen on 127.0.0.1:\(port): \(detail)")
        }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) } }
        self.port = Int(UInt16(bigEndian: address.sin_port))
        listener = fd
    }

    /// Accepts connections until `stop`.
    public func run() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            Thread.detachNewThread { [self] in
                while true {
                    let client = accept(listener, nil, nil)
                    if client < 0 {
                        if errno == EINTR { continue }
                        break
                    }
                    Thread.detachNewThread { [self] in
                        serve(client)
                        close(client)
                    }
                }
                continuation.resume()
            }
        }
    }

    /// Stops accepting connections (the ones open are served until they disconnect or the process ends).
    public func stop() {
        guard
            stopped.withLock({ state in
                defer { state = true }; return !state
            })
        else { return }
        shutdown(listener, Int32(SHUT_RDWR))
        close(listener)
    }

    // MARK: - Protocol

    static let nbdMagic: UInt64 = 0x4E42_444D_4147_4943
    static let optionMagic: UInt64 = 0x4948_4156_454F_5054
    static let replyMagic: UInt64 = 0x3_E889_0455_65A9
    static let requestMagic: UInt32 = 0x2560_9513
    static let simpleReplyMagic: UInt32 = 0x6744_6698

    private func serve(_ fd: Int32) {
        let connection = Connection(fd: fd)
        do {
            guard let reader = try handshake(connection) else { return }
            try transmit(connection, reader)
        } catch {
            // A client that goes away mid-request is not the server's problem.
        }
    }

    /// Negotiates an export; nil when the client ended the negotiation.
    private func handshake(_ c: Connection) throws -> VolumeReader? {
        try c.write(u64: Self.nbdMagic)
        try c.write(u64: Self.optionMagic)
        try c.write(u16: 1 | 2) // FIXED_NEWSTYLE | NO_ZEROES
        let clientFlags = try c.readU32()
        let noZeroes = clientFlags & 2 != 0
        while true {
            guard try c.readU64() == Self.optionMagic else { return nil }
            let option = try c.readU32()
            let length = Int(try c.readU32())
            guard length <= 1 << 16 else { return nil }
            let data = try c.read(length)
            switch option {
            case 1: // EXPORT_NAME: no reply on failure but closing
                guard let reader = exports[String(decoding: data, as: UTF8.self)] else { return nil }
                try c.write(u64: Self.exportSize(reader))
                try c.write(u16: 1 | 2) // HAS_FLAGS | READ_ONLY
                if !noZeroes { try c.write([UInt8](repeating: 0, count: 124)) }
                return reader
            case 2: // ABORT
                try reply(c, option, 1, [])
                return nil
            case 3: // LIST
                for name in exports.keys.sorted() {
                    try reply(c, option, 2, Self.u32(UInt32(name.utf8.count)) + Array(name.utf8))
                }
                try reply(c, option, 1, [])
            case 6, 7: // INFO, GO
                guard data.count >= 4 else { try reply(c, option, 0x8000_0003, []); continue }
                let nameLength = Int(UInt32(data[0]) << 24 | UInt32(data[1]) << 16 | UInt32(data[2]) << 8 | UInt32(data[3]))
                guard data.count >= 4 + nameLength else { try reply(c, option, 0x8000_0003, []); continue }
                let name = String(decoding: data[4..<(4 + nameLength)], as: UTF8.self)
                guard let reader = exports[name] ?? (name.isEmpty && exports.count == 1 ? exports.values.first : nil) else {
                    try reply(c, option, 0x8000_0006, Array("no export named \(name)".utf8)) // ERR_UNKNOWN
                    continue
                }
                try reply(c, option, 3, Self.u16(0) + Self.u64(Self.exportSize(reader)) + Self.u16(1 | 2)) // INFO_EXPORT
                try reply(c, option, 3, Self.u16(3) + Self.u32(1) + Self.u32(4096) + Self.u32(32 << 20)) // INFO_BLOCK_SIZE
                try reply(c, option, 1, [])
                if option == 7 { return reader }
            default:
                try reply(c, option, 0x8000_0001, []) // ERR_UNSUP
            }
        }
    }

    private func reply(_ c: Connection, _ option: UInt32, _ type: UInt32, _ data: [UInt8]) throws {
        try c.write(Self.u64(Self.replyMagic) + Self.u32(option) + Self.u32(type) + Self.u32(UInt32(data.count)) + data)
    }

    private func transmit(_ c: Connection, _ reader: VolumeReader) throws {
        while true {
            guard try c.readU32() == Self.requestMagic else { return }
            _ = try c.readU16()
            let type = try c.readU16()
            let handle = try c.readU64()
            let offset = try c.readU64()
            let length = Int(try c.readU32())
            switch type {
            case 0: // READ
                let end = Self.exportSize(reader)
                guard length <= 32 << 20, offset <= end, UInt64(length) <= end - offset else {
                    try c.write(Self.u32(Self.simpleReplyMagic) + Self.u32(UInt32(EINVAL)) + Self.u64(handle))
                    continue
                }
                switch Self.wait({ try await reader.read(at: Int64(offset), count: length) }) {
                case .success(var data):
                    if data.count < length { data.pieces.append(.zeros(length - data.count)) }
                    try c.write(Self.u32(Self.simpleReplyMagic) + Self.u32(0) + Self.u64(handle))
                    try c.write(data)
                case .failure(let error):
                    log.write("NBD read of \(length) bytes at \(offset) failed with EIO: \(error)")
                    try c.write(Self.u32(Self.simpleReplyMagic) + Self.u32(UInt32(EIO)) + Self.u64(handle))
                }
            case 1: // WRITE: read and drop the payload, refuse
                _ = try c.read(length)
                try c.write(Self.u32(Self.simpleReplyMagic) + Self.u32(UInt32(EPERM)) + Self.u64(handle))
            case 2: // DISC
                return
            case 3: // FLUSH: nothing was written
                try c.write(Self.u32(Self.simpleReplyMagic) + Self.u32(0) + Self.u64(handle))
            default:
                try c.write(Self.u32(Self.simpleReplyMagic) + Self.u32(UInt32(EINVAL)) + Self.u64(handle))
            }
        }
    }

    static func exportSize(_ reader: VolumeReader) -> UInt64 {
        (UInt64(reader.size) + 511) / 512 * 512
    }

    /// Runs async work from a connection thread and waits for it there.
    private static func wait<T: Sendable>(_ body: @escaping @Sendable () async throws -> T) -> Result<T, any Error> {
        let done = DispatchSemaphore(value: 0)
        let outcome = Outcome<T>()
        Task {
            do { outcome.result = .success(try await body()) } catch { outcome.result = .failure(error) }
            done.signal()
        }
        done.wait()
        return outcome.result!
    }

    static func u16(_ v: UInt16) -> [UInt8] { withUnsafeBytes(of: v.bigEndian, Array.init) }
    static func u32(_ v: UInt32) -> [UInt8] { withUnsafeBytes(of: v.bigEndian, Array.init) }
    static func u64(_ v: UInt64) -> [UInt8] { withUnsafeBytes(of: v.bigEndian, Array.init) }

    /// Blocking reads and writes of whole buffers on a socket.
    private struct Connection {
        let fd: Int32
        struct Closed: Error {}

        func read(_ count: Int) throws -> [UInt8] {
            var buffer = [UInt8](repeating: 0, count: count)
            var done = 0
            while done < count {
                let n = buffer.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress! + done, count - done) }
                if n < 0 && errno == EINTR { continue }
                guard n > 0 else { throw Closed() }
                done += n
            }
            return buffer
        }

        func readU16() throws -> UInt16 { try read(2).reduce(0) { $0 << 8 | UInt16($1) } }
        func readU32() throws -> UInt32 { try read(4).reduce(0) { $0 << 8 | UInt32($1) } }
        func readU64() throws -> UInt64 { try read(8).reduce(0) { $0 << 8 | UInt64($1) } }

        func write(u16 v: UInt16) throws { try write(NBDServer.u16(v)) }
        func write(u64 v: UInt64) throws { try write(NBDServer.u64(v)) }

        func write(_ bytes: [UInt8]) throws {
            try bytes.withUnsafeBytes { try write($0) }
        }

        func write(_ bytes: UnsafeRawBufferPointer) throws {
            var done = 0
            while done < bytes.count {
                let n = send(fd, bytes.baseAddress! + done, bytes.count - done, Int32(MSG_NOSIGNAL))
                if n < 0 && errno == EINTR { continue }
                guard n > 0 else { throw Closed() }
                done += n
            }
        }

        func write(_ data: VolumeData) throws {
            for piece in data.pieces {
                switch piece {
                case .zeros(let n): try write([UInt8](repeating: 0, count: n))
                case .chunk(let chunk, let range): try write(UnsafeRawBufferPointer(rebasing: chunk.bytes[range]))
                }
            }
        }
    }
}

/// A result written by a task before it signals a semaphore and read after the wait (the
/// semaphore orders the two).
private final class Outcome<T>: @unchecked Sendable {
    var result: Result<T, any Error>?
}
