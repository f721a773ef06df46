import COpenSSL

/// SHA-256 and HMAC-SHA256 through OpenSSL (which uses the CPU's SHA extensions).
public enum Digest {
    public static func sha256(_ data: UnsafeRawBufferPointer) -> ChunkID {
        var out = [UInt8](repeating: 0, count: 32)
        out.withUnsafeMutableBufferPointer { o in
            _ = SHA256(data.baseAddress?.assumingMemoryBound(to: UInt8.self), data.count, o.baseAddress)
        }
        return ChunkID(out)
    }

    public static func sha256(_ data: [UInt8]) -> ChunkID {
        data.withUnsafeBytes { sha256($0) }
    }

    public static func hmacSHA256(key: [UInt8], _ data: UnsafeRawBufferPointer) -> ChunkID {
        var out = [UInt8](repeating: 0, count: 32)
        var length: UInt32 = 32
        key.withUnsafeBytes { k in
            out.withUnsafeMutableBufferPointer { o in
                _ = HMAC(EVP_sha256(), k.baseAddress, Int32(k.count),
                         data.baseAddress?.assumingMemoryBound(to: UInt8.self), data.count, o.baseAddress, &length)
            }
        }
        return ChunkID(out)
    }

    public static func hmacSHA256(key: [UInt8], _ data: [UInt8]) -> ChunkID {
        data.withUnsafeBytes { hmacSHA256(key: key, $0) }
    }

    /// HKDF-SHA256 (RFC 5869) producing 32 bytes.
    public static func hkdf(key: [UInt8], salt: [UInt8], info: [UInt8]) -> [UInt8] {
        let prk = hmacSHA256(key: salt, key).bytes
        return hmacSHA256(key: prk, info + [1]).bytes
    }
}
