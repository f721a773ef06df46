import COpenSSL

/// scrypt (RFC 7914) through OpenSSL: turns a password into a key-encryption key.
public struct Scrypt: Codable, Sendable, Equatable {
    /// CPU/memory cost (a power of two).
    public var n: UInt64
    public var r: UInt64
    public var p: UInt64

    /// About 32 MiB of memory and a tenth of a second per derivation on a current server core.
    public static let standard = Scrypt(n: 1 << 15, r: 8, p: 1)

    public init(n: UInt64, r: UInt64, p: UInt64) {
        self.n = n; self.r = r; self.p = p
    }

    /// Whether the parameters are sane enough to run (a key file could carry absurd ones).
    public var isReasonable: Bool {
        n >= 2 && n.nonzeroBitCount == 1 && n <= 1 << 22 && r >= 1 && r <= 32 && p >= 1 && p <= 16
    }

    public func deriveKey(password: [UInt8], salt: [UInt8]) -> [UInt8]? {
        guard isReasonable else { return nil }
        var out = [UInt8](repeating: 0, count: 32)
        let maxMemory = 128 * r * n * p + (1 << 20) * 64
        let ok = password.withUnsafeBufferPointer { pw in
            salt.withUnsafeBufferPointer { s in
                out.withUnsafeMutableBufferPointer { o in
                    pw.withMemoryRebound(to: CChar.self) { pwc in
                        EVP_PBE_scrypt(pwc.baseAddress, pw.count, s.baseAddress, s.count, n, r, p, maxMemory, o.baseAddress, 32)
                    }
                }
            }
        }
        return ok == 1 ? out : nil
    }
}
