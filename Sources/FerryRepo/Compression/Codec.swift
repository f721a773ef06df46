import CLZ4

/// How a chunk's payload is encoded before sealing. The codec byte is the first byte of every
/// stored chunk's plaintext, so a chunk describes itself.
public enum Codec: UInt8, Sendable {
    /// Stored as is: used when compression would not shrink the data.
    case none = 0
    /// LZ4 block format (liblz4).
    case lz4 = 1

    /// The largest LZ4 output for `count` input bytes.
    public static func lz4Bound(_ count: Int) -> Int {
        Int(LZ4_compressBound(Int32(count)))
    }

    /// Compresses `input` into `output` (at least `lz4Bound(input.count)` bytes); returns the
    /// compressed size, or nil when it would not be smaller than the input.
    public static func lz4Compress(_ input: UnsafeRawBufferPointer, into output: UnsafeMutableRawBufferPointer) -> Int? {
        guard input.count > 0 else { return nil }
        let n = LZ4_compress_default(
            input.baseAddress!.assumingMemoryBound(to: CChar.self),
            output.baseAddress!.assumingMemoryBound(to: CChar.self),
            Int32(input.count), Int32(output.count))
        guard n > 0, Int(n) < input.count else { return nil }
        return Int(n)
    }

    /// Decompresses exactly `output.count` bytes; false when the input is malformed or does not
    /// decode to exactly that size.
    public static func lz4Decompress(_ input: UnsafeRawBufferPointer, into output: UnsafeMutableRawBufferPointer) -> Bool {
        guard input.count > 0, let src = input.baseAddress, let dst = output.baseAddress else { return output.count == 0 && input.count == 0 }
        let n = LZ4_decompress_safe(
            src.assumingMemoryBound(to: CChar.self), dst.assumingMemoryBound(to: CChar.self),
            Int32(input.count), Int32(output.count))
        return Int(n) == output.count
    }
}
