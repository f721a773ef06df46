import FerryBlob
import Foundation

/// A key slot as listed by `ferry key list`.
public struct KeySlotInfo: Codable, Sendable {
    public var id: String
    /// "scrypt" (password) or "raw" (a 32-byte key).
    public var kdf: String
    public var created: Date
    public var hostname: String
    public var username: String
    /// Whether this slot opened the repository in this process.
    public var current: Bool
}

/// Key slot management (`ferry key`): passwords change by adding and removing slots, never by
/// rewriting data, because every slot wraps the same master keys.
extension Repository {
    public func keySlots() async throws -> [KeySlotInfo] {
        let names = try await Self.wrap { try await store.list(prefix: ObjectName.keysPrefix) }.map(\.name)
        var slots: [KeySlotInfo] = []
        for (name, bytes) in try await Self.fetchAll(names, store: store) {
            guard let slot = try? Self.decoder.decode(KeySlot.self, from: Data(bytes)) else {
                throw RepositoryError.corruptObject(name: name, detail: "key slot is not valid JSON")
            }
            slots.append(
                KeySlotInfo(
                    id: String(name.dropFirst(ObjectName.keysPrefix.count)), kdf: slot.kdf, created: slot.created,
                    hostname: slot.hostname, username: slot.username, current: name == access.slot))
        }
        return slots.sorted { ($0.created, $0.id) < ($1.created, $1.id) }
    }

    /// Adds a slot that opens the repository with `credential`; returns its id.
    @discardableResult
    public func addKeySlot(_ credential: Credential, kdf: Scrypt = .standard) async throws -> String {
        guard let keys else { throw RepositoryError.invalidArgument("the repository is not encrypted: it has no keys") }
        let slot = try KeySlot.make(credential, masterKeys: keys, config: config, configBytes: access.configBytes, kdf: kdf)
        let id = SecureRandom.hex(16)
        try await Self.wrap { try await store.put(ObjectName.key(id), try [UInt8](Self.encoder.encode(slot))) }
        return id
    }

    /// Removes a key slot (by id or unique id prefix). The slot this process opened with, and
    /// the last slot, are refused.
    public func removeKeySlot(_ prefix: String) async throws {
        let slots = try await keySlots()
        let matches = slots.filter { $0.id.hasPrefix(prefix) }
        guard !prefix.isEmpty, let slot = matches.first else { throw RepositoryError.invalidArgument("no key slot matches \(prefix)") }
        guard matches.count == 1 else { throw RepositoryError.invalidArgument("key prefix \(prefix) is ambiguous") }
        guard slots.count > 1 else {
            throw RepositoryError.invalidArgument("refusing to remove the last key slot: nothing could open the repository again")
        }
        guard !slot.current else {
            throw RepositoryError.invalidArgument(
                "refusing to remove the key slot in use; open the repository with another key, or use `ferry key passwd`")
        }
        try await Self.wrap { try await store.delete([ObjectName.key(slot.id)]) }
    }

    /// Replaces the slot this process opened with by one for `credential`; returns the new id.
    @discardableResult
    public func changeKey(to credential: Credential, kdf: Scrypt = .standard) async throws -> String {
        guard let current = access.slot else { throw RepositoryError.invalidArgument("the repository is not encrypted: it has no keys") }
        let id = try await addKeySlot(credential, kdf: kdf)
        try await Self.wrap { try await store.delete([current]) }
        return id
    }
}
