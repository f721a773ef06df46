/// Computes chunk ids: keyed (HMAC-SHA256 under the repository's id key) so that nobody without
/// the key can test whether a known plaintext is stored, or plain SHA-256 in an unencrypted
/// repository.
public struct ChunkHasher: Sendable {
    private let key: [UInt8]?

    public init(key: [UInt8]?) {
        self.key = key
    }

    public func id(of data: UnsafeRawBufferPointer) -> ChunkID {
        if let key { return Digest.hmacSHA256(key: key, data) }
        return Digest.sha256(data)
    }

    public func id(of data: [UInt8]) -> ChunkID {
        data.withUnsafeBytes { id(of: $0) }
    }
}
