/// Appends little-endian integers and raw bytes: the building block of Ferry's binary formats.
struct ByteWriter {
    var bytes: [UInt8] = []

    init(capacity: Int = 0) {
        bytes.reserveCapacity(capacity)
    }

    mutating func u8(_ v: UInt8) { bytes.append(v) }
    mutating func u16(_ v: UInt16) { withUnsafeBytes(of: v.littleEndian) { bytes.append(contentsOf: $0) } }
    mutating func u32(_ v: UInt32) { withUnsafeBytes(of: v.littleEndian) { bytes.append(contentsOf: $0) } }
    mutating func u64(_ v: UInt64) { withUnsafeBytes(of: v.littleEndian) { bytes.append(contentsOf: $0) } }
    mutating func raw(_ v: some Sequence<UInt8>) { bytes.append(contentsOf: v) }
    mutating func id(_ v: ChunkID) {
        let start = bytes.count
        bytes.append(contentsOf: repeatElement(0, count: 32))
        bytes.withUnsafeMutableBytes { v.store(to: $0, at: start) }
    }
}

/// Reads what `ByteWriter` wrote, checking every bound: malformed input raises
/// `ByteReader.Truncated` instead of trapping.
struct ByteReader {
    struct Truncated: Error {}

    let bytes: [UInt8]
    private(set) var position: Int

    init(_ bytes: [UInt8], at position: Int = 0) {
        self.bytes = bytes
        self.position = position
    }

    var remaining: Int { bytes.count - position }

    mutating func need(_ n: Int) throws {
        if n < 0 || n > remaining { throw Truncated() }
    }

    mutating func u8() throws -> UInt8 {
        try need(1)
        defer { position += 1 }
        return bytes[position]
    }

    mutating func u16() throws -> UInt16 { try UInt16(littleEndian: load()) }
    mutating func u32() throws -> UInt32 { try UInt32(littleEndian: load()) }
    mutating func u64() throws -> UInt64 { try UInt64(littleEndian: load()) }

    mutating func raw(_ n: Int) throws -> ArraySlice<UInt8> {
        try need(n)
        defer { position += n }
        return bytes[position..<position + n]
    }

    mutating func id() throws -> ChunkID {
        try need(32)
        defer { position += 32 }
        return bytes.withUnsafeBytes { ChunkID(bytes: $0, at: position) }
    }

    private mutating func load<T: FixedWidthInteger>() throws -> T {
        try need(MemoryLayout<T>.size)
        defer { position += MemoryLayout<T>.size }
        return bytes.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: position, as: T.self) }
    }
}
