import Foundation

/// What opens a repository: a password (stretched with scrypt) or a raw 32-byte key (for
/// machines, e.g. from a Kubernetes Secret; it already has full entropy, so it is only run
/// through HKDF).
public enum Credential: Sendable {
    case password([UInt8])
    case rawKey([UInt8])

    var kdf: String {
        switch self {
        case .password: "scrypt"
        case .rawKey: "raw"
        }
    }
}

/// One `keys/<id>` object: the master keys wrapped by a key derived from a credential. Several
/// slots may exist; any one opens the repository. The wrapped payload also binds the
/// repository id and the digest of `config`, so a key slot cannot be moved to another
/// repository and the config cannot be altered without detection.
public struct KeySlot: Codable, Sendable {
    public var version: Int
    /// "scrypt" (password) or "raw" (a 32-byte key).
    public var kdf: String
    public var scrypt: Scrypt?
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

    /// Wraps `masterKeys` under `credential`.
    public static func make(
        _ credential: Credential, masterKeys: MasterKeys, config: RepositoryConfig, configBytes: [UInt8], kdf: Scrypt = .standard
    ) throws -> KeySlot {
        let salt = SecureRandom.bytes(32)
        let kek = try wrappingKey(credential, salt: salt, scrypt: kdf)
        let payload = Payload(
            repository: config.id, configDigest: Digest.sha256(configBytes).hex,
            dataKey: Data(masterKeys.dataKey).base64EncodedString(), idKey: Data(masterKeys.idKey).base64EncodedString())
        let plain = try [UInt8](JSONEncoder().encode(payload))
        let sealed = AESGCM(key: kek).seal(plain, aad: aad(config.id))
        var scrypt: Scrypt?
        if case .password = credential { scrypt = kdf }
        return KeySlot(
            version: 1, kdf: credential.kdf, scrypt: scrypt, salt: Data(salt).base64EncodedString(),
            keys: Data(sealed).base64EncodedString(), created: Date(),
            hostname: ProcessInfo.processInfo.hostName, username: ProcessInfo.processInfo.userName)
    }

    public static func make(
        password: [UInt8], masterKeys: MasterKeys, config: RepositoryConfig, configBytes: [UInt8], kdf: Scrypt = .standard
    ) throws -> KeySlot {
        try make(.password(password), masterKeys: masterKeys, config: config, configBytes: configBytes, kdf: kdf)
    }

    private static func wrappingKey(_ credential: Credential, salt: [UInt8], scrypt: Scrypt) throws -> [UInt8] {
        switch credential {
        case .password(let password):
            let derived = DerivedKeyCache.shared.key(password: password, salt: salt, scrypt: scrypt) {
                scrypt.deriveKey(password: password, salt: salt)
            }
            guard let key = derived else {
                throw RepositoryError.invalidArgument("scrypt parameters rejected")
            }
            return key
        case .rawKey(let key):
            guard key.count == 32 else { throw RepositoryError.invalidArgument("a raw key must be 32 bytes (base64 of 32 random bytes)") }
            return Digest.hkdf(key: key, salt: salt, info: Array("ferry/raw-key/v1".utf8))
        }
    }

    /// Unwraps the master keys, or returns nil when `credential` does not open this slot.
    /// Throws when the slot opens but belongs to another repository or config.
    func open(_ credential: Credential, config: RepositoryConfig, configBytes: [UInt8], name: String) throws -> MasterKeys? {
        guard kdf == credential.kdf else { return nil }
        guard let salt = Data(base64Encoded: self.salt), let sealed = Data(base64Encoded: keys) else {
            throw RepositoryError.corruptObject(name: name, detail: "malformed fields")
        }
        let params = scrypt ?? .standard
        if kdf == "scrypt" {
            guard let scrypt, scrypt.isReasonable else {
                throw RepositoryError.corruptObject(name: name, detail: "missing or unreasonable scrypt parameters")
            }
        }
        guard let kek = try? Self.wrappingKey(credential, salt: [UInt8](salt), scrypt: params),
            let plain = AESGCM(key: kek).open([UInt8](sealed), aad: Self.aad(config.id))
        else { return nil }
        guard let payload = try? JSONDecoder().decode(Payload.self, from: Data(plain)),
            let dataKey = Data(base64Encoded: payload.dataKey), dataKey.count == 32,
            let idKey = Data(base64Encoded: payload.idKey), idKey.count == 32
        else {
            throw RepositoryError.corruptObject(name: name, detail: "key payload malformed")
        }
        guard payload.repository == config.id, payload.configDigest == Digest.sha256(configBytes).hex else {
            throw RepositoryError.corruptObject(
                name: ObjectName.config, detail: "it does not match the one the key slots were made for (altered or replaced)")
        }
        return MasterKeys(dataKey: [UInt8](dataKey), idKey: [UInt8](idKey))
    }

    private static func aad(_ repositoryID: String) -> [UInt8] {
        Array("ferry key slot v1 \(repositoryID)".utf8)
    }
}
