import COpenSSL

/// SHA-256, MD5 and HMAC-SHA256 through OpenSSL's libcrypto (which uses the CPU's SHA
/// extensions): the one place Ferry computes them, for chunk ids and repository objects
/// (FerryRepo) as for S3 signatures and checksums (FerryBlob).
public enum Hash {
    public static let sha256Length = 32

    /// SHA-256 of `data` into the first 32 bytes of `out`.
    public static func sha256(_ data: UnsafeRawBufferPointer, into out: UnsafeMutableRawBufferPointer) {
        precondition(out.count >= sha256Length)
        digest(data, EVP_sha256(), into: out)
    }

    public static func sha256(_ bytes: some HashInput) -> [UInt8] {
        collect(sha256Length) { out in bytes.withUnsafeBytes { sha256($0, into: out) } }
    }

    /// MD5, only where a protocol asks for it (S3's Content-MD5 and ETags).
    public static func md5(_ bytes: some HashInput) -> [UInt8] {
        collect(16) { out in bytes.withUnsafeBytes { digest($0, EVP_md5(), into: out) } }
    }

    /// HMAC-SHA256 of `data` under `key` into the first 32 bytes of `out`.
    public static func hmacSHA256(key: UnsafeRawBufferPointer, _ data: UnsafeRawBufferPointer, into out: UnsafeMutableRawBufferPointer) {
        precondition(out.count >= sha256Length)
        var length: UInt32 = 32
        // OpenSSL wants non-null pointers even for empty input.
        let empty: UInt8 = 0
        withUnsafePointer(to: empty) { fallback in
            _ = HMAC(
                EVP_sha256(), key.baseAddress ?? UnsafeRawPointer(fallback), Int32(key.count),
                (data.baseAddress ?? UnsafeRawPointer(fallback)).assumingMemoryBound(to: UInt8.self), data.count,
                out.baseAddress!.assumingMemoryBound(to: UInt8.self), &length)
        }
    }

    public static func hmacSHA256(key: some HashInput, _ message: some HashInput) -> [UInt8] {
        collect(sha256Length) { out in
            key.withUnsafeBytes { key in message.withUnsafeBytes { hmacSHA256(key: key, $0, into: out) } }
        }
    }

    public static func hmacSHA256(key: some HashInput, _ message: String) -> [UInt8] {
        hmacSHA256(key: key, Array(message.utf8))
    }

    /// HKDF-SHA256 (RFC 5869) producing 32 bytes.
    public static func hkdf(key: [UInt8], salt: [UInt8], info: [UInt8]) -> [UInt8] {
        let prk = hmacSHA256(key: salt, key)
        return hmacSHA256(key: prk, info + [1])
    }

    private static func digest(_ data: UnsafeRawBufferPointer, _ type: OpaquePointer?, into out: UnsafeMutableRawBufferPointer) {
        var written: UInt32 = 0
        let empty: UInt8 = 0
        withUnsafePointer(to: empty) { fallback in
            _ = EVP_Digest(
                data.baseAddress ?? UnsafeRawPointer(fallback), data.count,
                out.baseAddress!.assumingMemoryBound(to: UInt8.self), &written, type, nil)
        }
    }

    private static func collect(_ count: Int, _ body: (UnsafeMutableRawBufferPointer) -> Void) -> [UInt8] {
        [UInt8](unsafeUninitializedCapacity: count) { buffer, initialized in
            body(UnsafeMutableRawBufferPointer(buffer))
            initialized = count
        }
    }
}

/// Anything whose bytes can be read in place: byte arrays and their slices.
public protocol HashInput {
    func withUnsafeBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R
}

extension Array: HashInput where Element == UInt8 {}
extension ArraySlice: HashInput where Element == UInt8 {}
