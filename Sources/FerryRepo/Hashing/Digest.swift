import FerryDigest

/// SHA-256, HMAC-SHA256 and HKDF as chunk ids: the typed face of `FerryDigest.Hash` (which
/// does the hashing, for the S3 signer too) for repository objects.
public enum Digest {
    public static func sha256(_ data: UnsafeRawBufferPointer) -> ChunkID {
        withUnsafeTemporaryAllocation(byteCount: Hash.sha256Length, alignment: 8) { out in
            Hash.sha256(data, into: out)
            return ChunkID(bytes: UnsafeRawBufferPointer(out))
        }
    }

    public static func sha256(_ data: [UInt8]) -> ChunkID {
        data.withUnsafeBytes { sha256($0) }
    }

    public static func hmacSHA256(key: [UInt8], _ data: UnsafeRawBufferPointer) -> ChunkID {
        withUnsafeTemporaryAllocation(byteCount: Hash.sha256Length, alignment: 8) { out in
            key.withUnsafeBytes { Hash.hmacSHA256(key: $0, data, into: out) }
            return ChunkID(bytes: UnsafeRawBufferPointer(out))
        }
    }

    public static func hmacSHA256(key: [UInt8], _ data: [UInt8]) -> ChunkID {
        data.withUnsafeBytes { hmacSHA256(key: key, $0) }
    }

    /// HKDF-SHA256 (RFC 5869) producing 32 bytes.
    public static func hkdf(key: [UInt8], salt: [UInt8], info: [UInt8]) -> [UInt8] {
        Hash.hkdf(key: key, salt: salt, info: info)
    }
}
