import CZlib
import CZstd

/// Decompresses one qcow2 compressed cluster: raw deflate (window bits 12, no zlib header) or a
/// zstd frame, depending on the header's compression type. The input may carry trailing bytes
/// of the sector the data ends in; decompression stops when a whole cluster has been produced.
enum ClusterDecompressor {
    /// Fills all of `output` from `input`, or returns why it could not.
    static func decompress(
        _ type: QCOW2Header.CompressionType, _ input: UnsafeRawBufferPointer, into output: UnsafeMutableRawBufferPointer
    ) -> String? {
        switch type {
        case .deflate: inflate(input, into: output)
        case .zstd: unzstd(input, into: output)
        }
    }

    private static func inflate(_ input: UnsafeRawBufferPointer, into output: UnsafeMutableRawBufferPointer) -> String? {
        var stream = z_stream()
        guard inflateInit2_(&stream, -12, ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size)) == Z_OK else {
            return "zlib could not be initialised"
        }
        defer { inflateEnd(&stream) }
        stream.next_in = UnsafeMutablePointer(mutating: input.baseAddress?.assumingMemoryBound(to: Bytef.self))
        stream.avail_in = uInt(input.count)
        stream.next_out = output.baseAddress?.assumingMemoryBound(to: Bytef.self)
        stream.avail_out = uInt(output.count)
        let status = CZlib.inflate(&stream, Z_FINISH)
        guard status == Z_STREAM_END || status == Z_BUF_ERROR || status == Z_OK else {
            return "deflate data is invalid (zlib status \(status))"
        }
        guard stream.avail_out == 0 else {
            return "deflate data ends after \(output.count - Int(stream.avail_out)) of \(output.count) bytes"
        }
        return nil
    }

    private static func unzstd(_ input: UnsafeRawBufferPointer, into output: UnsafeMutableRawBufferPointer) -> String? {
        guard let context = ZSTD_createDCtx() else { return "zstd could not be initialised" }
        defer { ZSTD_freeDCtx(context) }
        // A cluster is at most 2 MiB: refuse frames that ask for a larger window.
        ZSTD_DCtx_setParameter(context, ZSTD_d_windowLogMax, 22)
        var source = ZSTD_inBuffer(src: input.baseAddress, size: input.count, pos: 0)
        var target = ZSTD_outBuffer(dst: output.baseAddress, size: output.count, pos: 0)
        while target.pos < target.size {
            let before = (source.pos, target.pos)
            let status = ZSTD_decompressStream(context, &target, &source)
            if ZSTD_isError(status) != 0 {
                return "zstd data is invalid (\(String(cString: ZSTD_getErrorName(status))))"
            }
            if status == 0 || (source.pos, target.pos) == before { break }
        }
        guard target.pos == target.size else {
            return "zstd data ends after \(target.pos) of \(output.count) bytes"
        }
        return nil
    }
}
