import CZlib

/// Why a gzip fixture could not be expanded.
struct GunzipError: Error, CustomStringConvertible {
    var message: String
    var description: String { "gzip: \(message)" }
}

/// Expands the gzip-compressed fixtures the server reads (the OpenAPI definitions).
enum Gunzip {
    static func inflate(_ input: [UInt8]) throws(GunzipError) -> [UInt8] {
        var stream = z_stream()
        // 15 window bits + 16: a gzip header and trailer.
        guard inflateInit2_(&stream, 15 + 16, ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size)) == Z_OK else {
            throw GunzipError(message: "zlib initialisation failed")
        }
        defer { inflateEnd(&stream) }
        var output: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 256 << 10)
        var status: Int32 = Z_OK
        input.withUnsafeBufferPointer { inputBuffer in
            stream.next_in = UnsafeMutablePointer(mutating: inputBuffer.baseAddress)
            stream.avail_in = UInt32(inputBuffer.count)
            while status == Z_OK {
                let produced: Int = chunk.withUnsafeMutableBufferPointer { out in
                    stream.next_out = out.baseAddress
                    stream.avail_out = UInt32(out.count)
                    status = CZlib.inflate(&stream, Z_NO_FLUSH)
                    return out.count - Int(stream.avail_out)
                }
                output.append(contentsOf: chunk[0..<produced])
                if status == Z_OK && produced == 0 && stream.avail_in == 0 { status = Z_BUF_ERROR }
            }
        }
        guard status == Z_STREAM_END else { throw GunzipError(message: "corrupt or truncated data (zlib status \(status))") }
        return output
    }
}
