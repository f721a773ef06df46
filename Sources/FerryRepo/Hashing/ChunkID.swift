/// The identity of a chunk: HMAC-SHA256 of its plaintext under the repository's id key (plain
/// SHA-256 in an unencrypted repository). Also used for pack, index and snapshot object ids,
/// which are SHA-256 of the stored bytes.
///
/// Stored as four big-endian words so that comparing values orders them like their bytes.
public struct ChunkID: Hashable, Comparable, Sendable, CustomStringConvertible {
    public var w0: UInt64, w1: UInt64, w2: UInt64, w3: UInt64

    /// The all-zero id: the block map's marker for a block of zeros (never a real digest).
    public static let zero = ChunkID(w0: 0, w1: 0, w2: 0, w3: 0)

    public init(w0: UInt64, w1: UInt64, w2: UInt64, w3: UInt64) {
        self.w0 = w0; self.w1 = w1; self.w2 = w2; self.w3 = w3
    }

    /// Reads 32 bytes at `offset`.
    public init(bytes: UnsafeRawBufferPointer, at offset: Int = 0) {
        precondition(offset + 32 <= bytes.count)
        w0 = UInt64(bigEndian: bytes.loadUnaligned(fromByteOffset: offset, as: UInt64.self))
        w1 = UInt64(bigEndian: bytes.loadUnaligned(fromByteOffset: offset + 8, as: UInt64.self))
        w2 = UInt64(bigEndian: bytes.loadUnaligned(fromByteOffset: offset + 16, as: UInt64.self))
        w3 = UInt64(bigEndian: bytes.loadUnaligned(fromByteOffset: offset + 24, as: UInt64.self))
    }

    public init<C: Collection<UInt8>>(_ bytes: C) {
        precondition(bytes.count == 32, "a chunk id is 32 bytes")
        let array = Array(bytes)
        self = array.withUnsafeBytes { ChunkID(bytes: $0) }
    }

    /// Parses 64 hex digits; nil if `hex` is not that.
    public init?(hex: some StringProtocol) {
        guard hex.utf8.count == 64 else { return nil }
        var bytes = [UInt8]()
        bytes.reserveCapacity(32)
        var high: UInt8?
        for c in hex.utf8 {
            let v: UInt8
            switch c {
            case 0x30...0x39: v = c - 0x30
            case 0x61...0x66: v = c - 0x61 + 10
            case 0x41...0x46: v = c - 0x41 + 10
            default: return nil
            }
            if let h = high { bytes.append(h << 4 | v); high = nil } else { high = v }
        }
        self.init(bytes)
    }

    public var isZero: Bool { self == .zero }

    /// Writes the 32 bytes at `offset`.
    public func store(to buffer: UnsafeMutableRawBufferPointer, at offset: Int) {
        buffer.storeBytes(of: w0.bigEndian, toByteOffset: offset, as: UInt64.self)
        buffer.storeBytes(of: w1.bigEndian, toByteOffset: offset + 8, as: UInt64.self)
        buffer.storeBytes(of: w2.bigEndian, toByteOffset: offset + 16, as: UInt64.self)
        buffer.storeBytes(of: w3.bigEndian, toByteOffset: offset + 24, as: UInt64.self)
    }

    public var bytes: [UInt8] {
        [UInt8](unsafeUninitializedCapacity: 32) { buffer, count in
            store(to: UnsafeMutableRawBufferPointer(buffer), at: 0)
            count = 32
        }
    }

    public var hex: String {
        let digits: [UInt8] = Array("0123456789abcdef".utf8)
        var out = [UInt8]()
        out.reserveCapacity(64)
        for word in [w0, w1, w2, w3] {
            for shift in stride(from: 60, through: 0, by: -4) {
                out.append(digits[Int((word >> UInt64(shift)) & 0xF)])
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// The first 8 hex digits, as shown to users.
    public var short: String { String(hex.prefix(8)) }

    public var description: String { hex }

    public static func < (a: ChunkID, b: ChunkID) -> Bool {
        if a.w0 != b.w0 { return a.w0 < b.w0 }
        if a.w1 != b.w1 { return a.w1 < b.w1 }
        if a.w2 != b.w2 { return a.w2 < b.w2 }
        return a.w3 < b.w3
    }
}

/// In JSON (manifests, statuses) a chunk id is its 64 hex digits.
extension ChunkID: Codable {
    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        let text = try container.decode(String.self)
        guard let id = ChunkID(hex: text) else {
            throw DecodingError.dataCorruptedError(in: container, debugDescription: "\(text) is not a chunk id (64 hex digits)")
        }
        self = id
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(hex)
    }
}
