import CZlib

/// Why compressed data could not be expanded.
public enum InflateError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The data expands beyond the limit (a gzip bomb, or simply too big to trust).
    case tooLarge(limit: Int)
    case corrupt(String)
    case truncated

    public var description: String {
        switch self {
        case .tooLarge(let limit): return "decompressed data exceeds the \(limit)-byte limit"
        case .corrupt(let message): return "compressed data is corrupt: \(message)"
        case .truncated: return "compressed data ends early"
        }
    }
}

/// gzip / zlib decompression that stops as soon as the output would pass a limit, so a small
/// hostile payload cannot expand into gigabytes.
public enum BoundedInflater {
    /// Inflates gzip or zlib data (detected from the header) into at most `limit` bytes.
    public static func inflate(_ input: [UInt8], limit: Int) throws(InflateError) -> [UInt8] {
        var stream = z_stream()
        // 15 window bits + 32: detect gzip or zlib headers automatically.
        let initResult = inflateInit2_(&stream, 15 + 32, ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size))
        guard initResult == Z_OK else { throw .corrupt("zlib initialisation failed (\(initResult))") }
        defer { inflateEnd(&stream) }
        var output: [UInt8] = []
        let chunkSize = 64 << 10
        var chunk = [UInt8](repeating: 0, count: chunkSize)
        var status: Int32 = Z_OK
        var failure: InflateError?
        input.withUnsafeBufferPointer { inputBuffer in
            stream.next_in = UnsafeMutablePointer(mutating: inputBuffer.baseAddress)
            stream.avail_in = UInt32(inputBuffer.count)
            while status != Z_STREAM_END {
                let produced: Int = chunk.withUnsafeMutableBufferPointer { out in
                    stream.next_out = out.baseAddress
                    stream.avail_out = UInt32(chunkSize)
                    status = CZlib.inflate(&stream, Z_NO_FLUSH)
                    return chunkSize - Int(stream.avail_out)
                }
                switch status {
                case Z_OK, Z_STREAM_END:
                    break
                case Z_BUF_ERROR where produced == 0 && stream.avail_in == 0:
                    failure = .truncated
                    return
                case Z_BUF_ERROR:
                    break
                default:
                    let message = stream.msg.map { String(cString: $0) } ?? "zlib error \(status)"
                    failure = .corrupt(message)
                    return
                }
                if output.count + produced > limit {
                    failure = .tooLarge(limit: limit)
                    return
                }
                output.append(contentsOf: chunk[0..<produced])
                if status == Z_OK && produced == 0 && stream.avail_in == 0 {
                    failure = .truncated
                    return
                }
            }
        }
        if let failure { throw failure }
        return output
    }
}
