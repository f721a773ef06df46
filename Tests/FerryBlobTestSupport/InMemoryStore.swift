import FerryBlob
import Foundation
import Synchronization

/// An object store in memory, for fast tests: the `ObjectStore` contract (create-only writes
/// that never replace, ranged reads, typed missing-object errors) without any I/O.
public final class InMemoryStore: ObjectStore, Sendable {
    public let location: String
    private let objects = Mutex<[String: [UInt8]]>([:])

    public init(location: String = "memory://test") {
        self.location = location
    }

    @discardableResult
    public func put(_ name: String, _ bytes: [UInt8], mode: PutMode) async throws -> PutOutcome {
        try validate(name)
        return try objects.withLock { objects in
            switch mode {
            case .replace:
                objects[name] = bytes
                return .created
            case .createOnly:
                guard let existing = objects[name] else {
                    objects[name] = bytes
                    return .created
                }
                if existing == bytes { return .alreadyExists }
                throw ObjectStoreError.alreadyExists(name: name, store: location)
            }
        }
    }

    public func get(_ name: String) async throws -> [UInt8] {
        try validate(name)
        guard let bytes = objects.withLock({ $0[name] }) else { throw ObjectStoreError.notFound(name: name, store: location) }
        return bytes
    }

    public func get(_ name: String, range: Range<Int64>) async throws -> [UInt8] {
        let bytes = try await get(name)
        guard range.upperBound <= Int64(bytes.count) else {
            throw ObjectStoreError.corrupt(
                name: name, store: location, detail: "object is \(bytes.count) bytes, shorter than the requested range \(range)")
        }
        return Array(bytes[Int(range.lowerBound)..<Int(range.upperBound)])
    }

    public func head(_ name: String) async throws -> ObjectInfo? {
        try validate(name)
        return objects.withLock { $0[name] }.map { ObjectInfo(name: name, size: Int64($0.count)) }
    }

    public func list(prefix: String) async throws -> [ObjectInfo] {
        objects.withLock { objects in
            objects.filter { $0.key.hasPrefix(prefix) }.map { ObjectInfo(name: $0.key, size: Int64($0.value.count)) }
        }
    }

    public func delete(_ names: [String]) async throws {
        for name in names { try validate(name) }
        objects.withLock { objects in
            for name in names { objects[name] = nil }
        }
    }

    public func removeAbandonedWrites(startedBefore cutoff: Date) async throws -> AbandonedWrites {
        AbandonedWrites() // a write is never half done in memory
    }

    /// Every object's bytes, for tests that look behind the store.
    public var contents: [String: [UInt8]] {
        objects.withLock { $0 }
    }

    private func validate(_ name: String) throws {
        let parts = name.split(separator: "/", omittingEmptySubsequences: false)
        guard !name.isEmpty, !parts.contains(where: \.isEmpty), !name.unicodeScalars.contains(where: { $0.value < 0x20 }) else {
            throw ObjectStoreError.io(store: location, detail: "invalid object name \"\(name)\"")
        }
    }
}
