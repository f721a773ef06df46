import CLZ4
import CZstd

/// How a chunk's payload is encoded before sealing. The codec byte is the first byte of every
/// stored chunk's plaintext, so a chunk describes itself.
public enum Codec: UInt8, Sendable {
    /// Stored as is: used when compression would not shrink the data.
    case none = 0
    /// LZ4 block format (liblz4).
    case lz4 = 1
    /// One zstd frame holding the content size (libzstd).
    case zstd = 2

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

    /// The largest zstd output for `count` input bytes.
    public static func zstdBound(_ count: Int) -> Int {
        ZSTD_compressBound(count)
    }

    /// Compresses `input` into `output` (at least `zstdBound(input.count)` bytes) with `context`
    /// at `level`; returns the compressed size, or nil when it would not be smaller.
    public static func zstdCompress(
        _ input: UnsafeRawBufferPointer, into output: UnsafeMutableRawBufferPointer, level: Int32, context: ZstdContext
    ) -> Int? {
        guard input.count > 0 else { return nil }
        let n = ZSTD_compressCCtx(context.pointer, output.baseAddress, output.count, input.baseAddress, input.count, level)
        guard ZSTD_isError(n) == 0, n < input.count else { return nil }
        return n
    }

    /// Decompresses one frame into exactly `output.count` bytes; false when the input is
    /// malformed, holds more than one frame, or does not decode to exactly that size.
    public static func zstdDecompress(_ input: UnsafeRawBufferPointer, into output: UnsafeMutableRawBufferPointer) -> Bool {
        guard input.count > 0, let src = input.baseAddress, let dst = output.baseAddress else { return false }
        guard ZSTD_findFrameCompressedSize(src, input.count) == input.count,
            ZSTD_getFrameContentSize(src, input.count) == UInt64(output.count)
        else { return false }
        let n = ZSTD_decompress(dst, output.count, src, input.count)
        return ZSTD_isError(n) == 0 && n == output.count
    }

    /// Decompresses exactly `output.count` bytes; false when the input is malformed or does not
    /// decode to exactly that size.
    public static func lz4Decompress(_ input: UnsafeRawBufferPointer, into output: UnsafeMutableRawBufferPointer) -> Bool {
        guard input.count > 0, let src = input.baseAddress, let dst = output.baseAddress else {
            return output.count == 0 && input.count == 0
        }
        let n = LZ4_decompress_safe(
            src.assumingMemoryBound(to: CChar.self), dst.assumingMemoryBound(to: CChar.self),
            Int32(input.count), Int32(output.count))
        return Int(n) == output.count
    }
}

/// A zstd compression context, reused across chunks by one worker (creating one per chunk
/// would cost more than compressing a small chunk).
public final class ZstdContext: @unchecked Sendable {
    let pointer: OpaquePointer

    public init() {
        guard let context = ZSTD_createCCtx() else { fatalError("out of memory creating a zstd context") }
        pointer = context
    }

    deinit {
        ZSTD_freeCCtx(pointer)
    }
}
