/// The body of a request: nothing, bytes already in memory, or a stream of chunks produced while
/// the request is sent.
public struct HTTPBody: Sendable {
    enum Storage: Sendable {
        case empty
        case bytes(ArraySlice<UInt8>)
        case stream(length: Int64?, ChunkSource)
    }

    /// Runs a chunk sequence, handing each chunk to `push` until it returns false.
    struct ChunkSource: Sendable {
        let run: @Sendable (_ push: @Sendable ([UInt8]) async -> Bool) async throws -> Void
    }

    let storage: Storage

    /// No body.
    public static let empty = HTTPBody(storage: .empty)

    /// Bytes in memory. The array is shared, not copied.
    public static func bytes(_ bytes: [UInt8]) -> HTTPBody {
        HTTPBody(storage: .bytes(bytes[...]))
    }

    /// Part of an array in memory (one part of a multipart upload), shared, not copied.
    public static func bytes(_ bytes: ArraySlice<UInt8>) -> HTTPBody {
        HTTPBody(storage: .bytes(bytes))
    }

    /// UTF-8 text.
    public static func string(_ text: String) -> HTTPBody {
        .bytes(Array(text.utf8))
    }

    /// Chunks produced while the request is in flight. With a `length`, it is sent as
    /// Content-Length and the chunks must add up to exactly that many bytes; without one, the body
    /// is sent with chunked transfer encoding. The body is read once: a request with a streamed
    /// body cannot be rewound, so it is never resent on a fresh connection.
    public static func stream<Chunks: AsyncSequence & Sendable>(length: Int64? = nil, _ chunks: Chunks) -> HTTPBody
    where Chunks.Element == [UInt8] {
        HTTPBody(
            storage: .stream(
                length: length,
                ChunkSource { push in
                    for try await chunk in chunks {
                        if await !push(chunk) { return }
                    }
                }))
    }

    /// The body's size when known in advance.
    public var length: Int64? {
        switch storage {
        case .empty: 0
        case let .bytes(bytes): Int64(bytes.count)
        case let .stream(length, _): length
        }
    }
}
