import COpenSSL

/// AES-256-GCM with a random 96-bit nonce per message. A sealed message is
/// `nonce (12) | ciphertext | tag (16)`; the associated data binds it to its context (a chunk
/// sealed under one id cannot be passed off as another).
public struct AESGCM: Sendable {
    public static let nonceSize = 12
    public static let tagSize = 16
    public static let overhead = nonceSize + tagSize

    private let key: [UInt8]

    public init(key: [UInt8]) {
        precondition(key.count == 32, "AES-256 needs a 32-byte key")
        self.key = key
    }

    /// Seals the concatenation of `parts` into `output`, which must hold the total plaintext
    /// size plus `overhead` bytes. Returns the bytes written.
    public func seal(_ parts: [UnsafeRawBufferPointer], aad: UnsafeRawBufferPointer, into output: UnsafeMutableRawBufferPointer) -> Int {
        let plaintextCount = parts.reduce(0) { $0 + $1.count }
        precondition(output.count >= plaintextCount + Self.overhead)
        let out = output.baseAddress!.assumingMemoryBound(to: UInt8.self)
        let nonceOK = RAND_bytes(out, Int32(Self.nonceSize))
        precondition(nonceOK == 1, "OpenSSL RAND_bytes failed")
        let ctx = EVP_CIPHER_CTX_new()!
        defer { EVP_CIPHER_CTX_free(ctx) }
        var length: Int32 = 0
        var written = Self.nonceSize
        key.withUnsafeBufferPointer { k in
            check(EVP_EncryptInit_ex(ctx, EVP_aes_256_gcm(), nil, k.baseAddress, out))
        }
        if aad.count > 0 {
            check(EVP_EncryptUpdate(ctx, nil, &length, aad.baseAddress!.assumingMemoryBound(to: UInt8.self), Int32(aad.count)))
        }
        for part in parts where part.count > 0 {
            check(EVP_EncryptUpdate(ctx, out + written, &length, part.baseAddress!.assumingMemoryBound(to: UInt8.self), Int32(part.count)))
            written += Int(length)
        }
        check(EVP_EncryptFinal_ex(ctx, out + written, &length))
        written += Int(length)
        check(EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, Int32(Self.tagSize), out + written))
        return written + Self.tagSize
    }

    /// Opens a sealed message into `output` (at least `sealed.count - overhead` bytes).
    /// Returns the plaintext size, or nil when authentication fails (wrong key, tampering, or a
    /// message sealed for other associated data).
    public func open(_ sealed: UnsafeRawBufferPointer, aad: UnsafeRawBufferPointer, into output: UnsafeMutableRawBufferPointer) -> Int? {
        guard sealed.count >= Self.overhead else { return nil }
        let ciphertextCount = sealed.count - Self.overhead
        precondition(output.count >= ciphertextCount)
        let input = sealed.baseAddress!.assumingMemoryBound(to: UInt8.self)
        let out = output.baseAddress?.assumingMemoryBound(to: UInt8.self)
        let ctx = EVP_CIPHER_CTX_new()!
        defer { EVP_CIPHER_CTX_free(ctx) }
        var length: Int32 = 0
        key.withUnsafeBufferPointer { k in
            check(EVP_DecryptInit_ex(ctx, EVP_aes_256_gcm(), nil, k.baseAddress, input))
        }
        if aad.count > 0 {
            guard EVP_DecryptUpdate(ctx, nil, &length, aad.baseAddress!.assumingMemoryBound(to: UInt8.self), Int32(aad.count)) == 1 else {
                return nil
            }
        }
        var written = 0
        if ciphertextCount > 0 {
            guard EVP_DecryptUpdate(ctx, out, &length, input + Self.nonceSize, Int32(ciphertextCount)) == 1 else { return nil }
            written = Int(length)
        }
        let tag = UnsafeMutableRawPointer(mutating: input + Self.nonceSize + ciphertextCount)
        guard EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, Int32(Self.tagSize), tag) == 1 else { return nil }
        var finalLength: Int32 = 0
        guard EVP_DecryptFinal_ex(ctx, out.map { $0 + written }, &finalLength) == 1 else { return nil }
        return written + Int(finalLength)
    }

    /// Seals `plaintext` into a new array.
    public func seal(_ plaintext: [UInt8], aad: [UInt8]) -> [UInt8] {
        var output = [UInt8](repeating: 0, count: plaintext.count + Self.overhead)
        let n = plaintext.withUnsafeBytes { p in
            aad.withUnsafeBytes { a in
                output.withUnsafeMutableBytes { seal([p], aad: a, into: $0) }
            }
        }
        return Array(output[..<n])
    }

    /// Opens `sealed` into a new array, or nil when authentication fails.
    public func open(_ sealed: UnsafeRawBufferPointer, aad: [UInt8]) -> [UInt8]? {
        guard sealed.count >= Self.overhead else { return nil }
        var output = [UInt8](repeating: 0, count: sealed.count - Self.overhead)
        let n = aad.withUnsafeBytes { a in output.withUnsafeMutableBytes { open(sealed, aad: a, into: $0) } }
        return n.map { Array(output[..<$0]) }
    }

    public func open(_ sealed: [UInt8], aad: [UInt8]) -> [UInt8]? {
        sealed.withUnsafeBytes { open($0, aad: aad) }
    }

    private func check(_ result: Int32) {
        precondition(result == 1, "OpenSSL AES-GCM call failed")
    }
}
