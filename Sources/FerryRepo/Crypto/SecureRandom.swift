import COpenSSL
import FerryDigest

/// Cryptographically secure random bytes (OpenSSL's DRBG).
public enum SecureRandom {
    public static func bytes(_ count: Int) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: count)
        fill(&out)
        return out
    }

    public static func fill(_ buffer: inout [UInt8]) {
        let count = buffer.count
        let ok = buffer.withUnsafeMutableBufferPointer { RAND_bytes($0.baseAddress, Int32(count)) }
        precondition(ok == 1, "OpenSSL RAND_bytes failed: the system has no entropy source")
    }

    /// `count` random bytes as lowercase hex.
    public static func hex(_ count: Int) -> String {
        ByteText.hex(bytes(count))
    }
}
