/// The framing of every index and snapshot object:
///
///     "FERRYOBJ" | version u8 | kind u8 | flags u16 | reserved u32 | salt [16]   (32 bytes)
///     payload, sealed with AES-256-GCM under HKDF(dataKey, salt), the header as associated data
///
/// An unencrypted repository stores the payload in the clear after the same header (flags 0).
/// The object's name is the SHA-256 of all of its bytes.
public enum ObjectEnvelope {
    public enum Kind: UInt8, Sendable {
        case index = 1
        case snapshot = 2
    }

    static let magic = Array("FERRYOBJ".utf8)
    static let headerSize = 32
    static let purpose = "ferry/object/v1"

    static func seal(_ payload: [UInt8], kind: Kind, keys: MasterKeys?) -> [UInt8] {
        var header = ByteWriter(capacity: headerSize + payload.count + AESGCM.overhead)
        header.raw(magic)
        header.u8(1)
        header.u8(kind.rawValue)
        header.u16(keys == nil ? 0 : 1)
        header.u32(0)
        let salt = SecureRandom.bytes(16)
        header.raw(salt)
        guard let keys else { return header.bytes + payload }
        let sealed = keys.subkey(salt: salt, purpose: purpose).seal(payload, aad: header.bytes)
        return header.bytes + sealed
    }

    static func open(_ bytes: [UInt8], kind: Kind, keys: MasterKeys?, name: String) throws -> [UInt8] {
        guard bytes.count >= headerSize, Array(bytes[0..<8]) == magic else {
            throw RepositoryError.corruptObject(name: name, detail: "not a Ferry object (bad magic or truncated)")
        }
        guard bytes[8] == 1 else {
            throw RepositoryError.corruptObject(name: name, detail: "unknown object version \(bytes[8])")
        }
        guard bytes[9] == kind.rawValue else {
            throw RepositoryError.corruptObject(name: name, detail: "wrong object kind \(bytes[9])")
        }
        let encrypted = bytes[10] & 1 == 1
        guard encrypted == (keys != nil) else {
            throw RepositoryError.corruptObject(
                name: name,
                detail: encrypted ? "encrypted object in an unencrypted repository" : "unencrypted object in an encrypted repository")
        }
        guard let keys else { return Array(bytes[headerSize...]) }
        let header = Array(bytes[0..<headerSize])
        let salt = Array(bytes[16..<32])
        let opened = bytes.withUnsafeBytes { raw in
            keys.subkey(salt: salt, purpose: purpose).open(UnsafeRawBufferPointer(rebasing: raw[headerSize...]), aad: header)
        }
        guard let opened else {
            throw RepositoryError.corruptObject(name: name, detail: "authentication failed (damaged or altered)")
        }
        return opened
    }
}
