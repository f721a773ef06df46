/// Big-endian field access over a byte array (qcow2 stores every number big-endian). Callers
/// check bounds first; these only do the arithmetic.
extension Array where Element == UInt8 {
    @inline(__always)
    func be16(at offset: Int) -> UInt16 {
        UInt16(self[offset]) << 8 | UInt16(self[offset + 1])
    }

    @inline(__always)
    func be32(at offset: Int) -> UInt32 {
        var value: UInt32 = 0
        for i in 0..<4 { value = value << 8 | UInt32(self[offset + i]) }
        return value
    }

    @inline(__always)
    func be64(at offset: Int) -> UInt64 {
        var value: UInt64 = 0
        for i in 0..<8 { value = value << 8 | UInt64(self[offset + i]) }
        return value
    }

    /// Bytes `offset..<offset+count` as a string, replacing invalid UTF-8.
    func string(at offset: Int, count: Int) -> String {
        String(decoding: self[offset..<offset + count], as: UTF8.self)
    }
}

/// Converts a table of big-endian 64-bit entries read from disk into host order.
func decodeBigEndianTable(_ bytes: UnsafeRawBufferPointer) -> [UInt64] {
    let count = bytes.count / 8
    return [UInt64](unsafeUninitializedCapacity: count) { table, initialized in
        for i in 0..<count {
            table[i] = UInt64(bigEndian: bytes.loadUnaligned(fromByteOffset: i * 8, as: UInt64.self))
        }
        initialized = count
    }
}
