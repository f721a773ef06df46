import FerryBlob
import Foundation
import Testing

/// The `ObjectStore` contract, one check per case: every store (and every wrapper) passes all
/// of them. A store's suite runs `@Test(arguments: StoreContract.allCases)` over a fresh, empty
/// store per case.
public enum StoreContract: String, CaseIterable, Sendable, CustomTestStringConvertible {
    case createOnlyNeverReplaces
    case replaceReplaces
    case getsWholeObjectsAndTypesMissingOnes
    case rangedGets
    case headsSizes
    case listsByPrefix
    case listsPastOnePage
    case deletesAndIgnoresMissingNames
    case emptyObjects
    case refusesInvalidNames
    case racingCreateOnlyWritesHaveOneWinner
    case abandonedWritesLeaveObjectsAlone

    public var testDescription: String { rawValue }

    /// Runs this check against `store`, which must be empty.
    public func check(_ store: any ObjectStore) async throws {
        switch self {
        case .createOnlyNeverReplaces:
            let first = Self.bytes(70_000, seed: 1)
            #expect(try await store.put("index/one", first) == .created)
            #expect(try await store.put("index/one", first) == .alreadyExists, "the same bytes again are a retried upload: success")
            try await Self.expectAlreadyExists("index/one") { try await store.put("index/one", Self.bytes(70_000, seed: 2)) }
            try await Self.expectAlreadyExists("index/one") { try await store.put("index/one", Self.bytes(10, seed: 2)) }
            #expect(try await store.get("index/one") == first, "a refused write leaves the original")
        case .replaceReplaces:
            try await store.put("sessions/a", Self.bytes(100, seed: 3), mode: .replace)
            let second = Self.bytes(50, seed: 4)
            try await store.put("sessions/a", second, mode: .replace)
            #expect(try await store.get("sessions/a") == second)
            #expect(try await store.head("sessions/a")?.size == 50)
        case .getsWholeObjectsAndTypesMissingOnes:
            let data = Self.bytes(1_500_000, seed: 5)
            try await store.put("packs/ab/abcdef", data)
            #expect(try await store.get("packs/ab/abcdef") == data)
            try await Self.expectNotFound("packs/ab/missing", in: store) { try await store.get("packs/ab/missing") }
            try await Self.expectNotFound("nothing/here", in: store) { try await store.get("nothing/here") }
        case .rangedGets:
            let data = Self.bytes(100_000, seed: 6)
            try await store.put("object", data)
            #expect(try await store.get("object", range: 0..<10) == Array(data[0..<10]))
            #expect(try await store.get("object", range: 99_990..<100_000) == Array(data[99_990...]))
            #expect(try await store.get("object", range: 12_345..<67_890) == Array(data[12_345..<67_890]))
            #expect(try await store.get("object", range: 5..<5) == [])
            for beyond in [Int64(99_990)..<100_010, 200_000..<200_010] {
                await #expect("a range past the end is corruption, not a short read") {
                    _ = try await store.get("object", range: beyond)
                } throws: { error in
                    guard case ObjectStoreError.corrupt(let name, _, _) = error else { return false }
                    return name == "object"
                }
            }
            try await Self.expectNotFound("missing", in: store) { try await store.get("missing", range: 0..<10) }
        case .headsSizes:
            try await store.put("keys/k1", Self.bytes(333, seed: 7))
            #expect(try await store.head("keys/k1") == ObjectInfo(name: "keys/k1", size: 333))
            #expect(try await store.head("keys/k2") == nil)
            #expect(try await store.head("elsewhere/k1") == nil)
        case .listsByPrefix:
            let names = ["config", "keys/a", "packs/ab/ab01", "packs/ab/ab02", "packs/cd/cd01", "packsx/zz", "snapshots/s1"]
            for (number, name) in names.enumerated() { try await store.put(name, Self.bytes(number + 1, seed: UInt64(number))) }
            #expect(Set(try await store.list(prefix: "")) == Set(names.enumerated().map { ObjectInfo(name: $1, size: Int64($0 + 1)) }))
            #expect(Set(try await store.list(prefix: "packs/").map(\.name)) == ["packs/ab/ab01", "packs/ab/ab02", "packs/cd/cd01"])
            #expect(Set(try await store.list(prefix: "packs/ab/").map(\.name)) == ["packs/ab/ab01", "packs/ab/ab02"])
            #expect(Set(try await store.list(prefix: "packs/ab/ab0").map(\.name)) == ["packs/ab/ab01", "packs/ab/ab02"])
            #expect(Set(try await store.list(prefix: "packs").map(\.name)).count == 4)
            #expect(try await store.list(prefix: "index/").isEmpty)
            #expect(try await store.list(prefix: "nothing/at/all/").isEmpty)
            // Names alone, as cheaply as the store can: the same names.
            for prefix in ["", "packs/", "packs/ab/", "packs/ab/ab0", "packs", "index/", "nothing/at/all/"] {
                #expect(Set(try await store.listNames(prefix: prefix)) == Set(try await store.list(prefix: prefix).map(\.name)))
            }
        case .listsPastOnePage:
            let names = (0..<25).map { "index/" + String(format: "%02d", $0) }
            try await withThrowingTaskGroup(of: Void.self) { group in
                for name in names { group.addTask { try await store.put(name, Array(name.utf8)) } }
                try await group.waitForAll()
            }
            let listed = try await store.list(prefix: "index/")
            #expect(listed.count == 25, "every object once")
            #expect(Set(listed.map(\.name)) == Set(names))
        case .deletesAndIgnoresMissingNames:
            for name in ["packs/a", "packs/b", "packs/c"] { try await store.put(name, Array(name.utf8)) }
            try await store.delete(["packs/a", "packs/missing", "packs/c"])
            #expect(try await store.list(prefix: "packs/").map(\.name) == ["packs/b"])
            #expect(try await store.head("packs/a") == nil)
            try await Self.expectNotFound("packs/c", in: store) { try await store.get("packs/c") }
            try await store.delete([])
            try await store.delete(["never/was"])
            #expect(try await store.put("packs/a", [1, 2, 3]) == .created, "a deleted name can be written again")
        case .emptyObjects:
            #expect(try await store.put("empty", []) == .created)
            #expect(try await store.get("empty") == [])
            #expect(try await store.head("empty")?.size == 0)
            #expect(try await store.put("empty", []) == .alreadyExists)
        case .refusesInvalidNames:
            for name in ["", "/absolute"] {
                await #expect(throws: ObjectStoreError.self, "name \"\(name)\"") { try await store.put(name, [1]) }
                await #expect(throws: ObjectStoreError.self, "name \"\(name)\"") { _ = try await store.get(name) }
            }
        case .racingCreateOnlyWritesHaveOneWinner:
            let outcomes = try await withThrowingTaskGroup(of: String.self) { group in
                for writer in 0..<8 {
                    group.addTask {
                        do {
                            // Half write the same bytes, half different ones.
                            let bytes = writer % 2 == 0 ? Self.bytes(4096, seed: 100) : Self.bytes(4096, seed: UInt64(200 + writer))
                            return "\(try await store.put("locks/race", bytes))"
                        } catch ObjectStoreError.alreadyExists {
                            return "refused"
                        }
                    }
                }
                return try await group.reduce(into: [String]()) { $0.append($1) }
            }
            #expect(outcomes.filter { $0 == "created" }.count == 1, "exactly one writer creates the object: \(outcomes)")
            let stored = try await store.get("locks/race")
            let winners = (0..<8).map { $0 % 2 == 0 ? Self.bytes(4096, seed: 100) : Self.bytes(4096, seed: UInt64(200 + $0)) }
            #expect(winners.contains(stored), "the object is one writer's bytes, whole")
        case .abandonedWritesLeaveObjectsAlone:
            try await store.put("packs/keep", Self.bytes(1000, seed: 9))
            let removed = try await store.removeAbandonedWrites(startedBefore: Date())
            #expect(removed.count == 0)
            #expect(try await store.get("packs/keep") == Self.bytes(1000, seed: 9))
        }
    }

    static func expectNotFound<T>(
        _ name: String, in store: any ObjectStore, sourceLocation: SourceLocation = #_sourceLocation, _ body: () async throws -> T
    ) async throws {
        do {
            _ = try await body()
            Issue.record("\(name) should be missing", sourceLocation: sourceLocation)
        } catch let ObjectStoreError.notFound(missing, location) {
            #expect(missing == name, sourceLocation: sourceLocation)
            #expect(location == store.location, sourceLocation: sourceLocation)
        }
    }

    static func expectAlreadyExists<T>(
        _ name: String, sourceLocation: SourceLocation = #_sourceLocation,
        _ body: () async throws -> T
    ) async throws {
        do {
            _ = try await body()
            Issue.record("writing other bytes under \(name) should be refused", sourceLocation: sourceLocation)
        } catch let ObjectStoreError.alreadyExists(refused, _) {
            #expect(refused == name, sourceLocation: sourceLocation)
        }
    }

    /// Deterministic bytes that differ per seed.
    public static func bytes(_ count: Int, seed: UInt64) -> [UInt8] {
        var state = seed &* 0x9E37_79B9_7F4A_7C15 | 1
        var out = [UInt8](repeating: 0, count: count)
        var index = 0
        while index < count {
            state ^= state << 13
            state ^= state >> 7
            state ^= state << 17
            var word = state
            for _ in 0..<8 where index < count {
                out[index] = UInt8(truncatingIfNeeded: word)
                word >>= 8
                index += 1
            }
        }
        return out
    }
}
