/// The repository's secret keys, created at `repo init` and stored only wrapped in key slots.
public struct MasterKeys: Sendable, Equatable {
    /// Encrypts chunks, packs' trailers, indexes and manifests (through per-object subkeys).
    public var dataKey: [UInt8]
    /// Keys the chunk-id HMAC.
    public var idKey: [UInt8]

    public init(dataKey: [UInt8], idKey: [UInt8]) {
        self.dataKey = dataKey
        self.idKey = idKey
    }

    public static func random() -> MasterKeys {
        MasterKeys(dataKey: SecureRandom.bytes(32), idKey: SecureRandom.bytes(32))
    }

    /// The key for one pack or object, derived from the data key and that object's random salt,
    /// so no single key ever approaches GCM's nonce limit.
    func subkey(salt: [UInt8], purpose: String) -> AESGCM {
        AESGCM(key: Digest.hkdf(key: dataKey, salt: salt, info: Array(purpose.utf8)))
    }
}
