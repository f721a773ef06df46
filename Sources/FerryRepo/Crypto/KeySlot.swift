import Foundation

/// One `keys/<id>` object: the master keys wrapped by a key derived from a password (scrypt).
/// Several slots may exist; any one opens the repository. The wrapped payload also binds the
/// repository id and the digest of `config`, so a key slot cannot be moved to another
/// repository and the config cannot be altered without detection.
public struct KeySlot: Codable, Sendable {
    public var version: Int
    public var kdf: String
    public var scrypt: Scrypt
    public var salt: String
    /// AES-256-GCM sealed `Payload` JSON, base64.
    public var keys: String
    public var created: Date
    public var hostname: String
    public var username: String

    struct Payload: Codable {
        var repository: String
        var configDigest: String
        var dataKey: String
        var idKey: String
    }

    /// Wraps `masterKeys` under `password`.
    public static func make(password: [UInt8], masterKeys: MasterKeys, config: RepositoryConfig, configBytes: [UInt8], kdf: Scrypt = .standard) throws -> KeySlot {
        let salt = SecureRandom.bytes(32)
        guard let kek = kdf.deriveKey(password: password, salt: salt) else {
            throw RepositoryError.invalidArgument("scrypt parameters rejected")
        }
        let payload = Payload(
            repository: config.id, configDigest: Digest.sha256(configBytes).hex,
            dataKey: Data(masterKeys.dataKey).base64EncodedString(), idKey: Data(masterKeys.idKey).base64EncodedString())
        let plain = try [UInt8](JSONEncoder().encode(payload))
        let sealed = AESGCM(key: kek).seal(plain, aad: aad(config.id))
        return KeySlot(
            version: 1, kdf: "scrypt", scrypt: kdf, salt: Data(salt).base64EncodedString(),
            keys: Data(sealed).base64EncodedString(), created: Date(),
            hostname: ProcessInfo.processInfo.hostName, username: ProcessInfo.processInfo.userName)
    }

    /// Unwraps the master keys, or returns nil when `password` does not open this slot.
    /// Throws when the slot opens but belongs to another repository or config.
    func open(password: [UInt8], config: RepositoryConfig, configBytes: [UInt8], name: String) throws -> MasterKeys? {
        guard kdf == "scrypt", let salt = Data(base64Encoded: self.salt), let sealed = Data(base64Encoded: keys) else {
            throw RepositoryError.corruptObject(name: name, detail: "unknown key derivation or malformed fields")
        }
        guard scrypt.isReasonable else {
            throw RepositoryError.corruptObject(name: name, detail: "unreasonable scrypt parameters")
        }
        guard let kek = scrypt.deriveKey(password: password, salt: [UInt8](salt)),
              let plain = AESGCM(key: kek).open([UInt8](sealed), aad: Self.aad(config.id))
        else { return nil }
        guard let payload = try? JSONDecoder().decode(Payload.self, from: Data(plain)),
              let dataKey = Data(base64Encoded: payload.dataKey), dataKey.count == 32,
              let idKey = Data(base64Encoded: payload.idKey), idKey.count == 32
        else {
            throw RepositoryError.corruptObject(name: name, detail: "key payload malformed")
        }
        guard payload.repository == config.id, payload.configDigest == Digest.sha256(configBytes).hex else {
            throw RepositoryError.corruptObject(name: ObjectName.config, detail: "it does not match the one the key slots were made for (altered or replaced)")
        }
        return MasterKeys(dataKey: [UInt8](dataKey), idKey: [UInt8](idKey))
    }

    private static func aad(_ repositoryID: String) -> [UInt8] {
        Array("ferry key slot v1 \(repositoryID)".utf8)
    }
}
