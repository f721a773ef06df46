import FerryBlob
import FerryBlobTestSupport
import Foundation
import Synchronization
import Testing

@Suite("Fault-injecting store")
struct FaultInjectingStoreTests {
    @Test func strikesTheChosenCallsOnly() async throws {
        let store = FaultInjectingStore(InMemoryStore())
        try await store.put("sessions/a", [1])
        try await store.put("packs/p", [2])
        let eio = ObjectStoreError.io(store: store.location, detail: "EIO (injected)")
        store.inject(.init(.get, nameContains: "sessions/", skip: 1, times: 2, error: eio))
        #expect(try await store.get("sessions/a") == [1], "the first matching call is skipped")
        #expect(try await store.get("packs/p") == [2], "another name is not struck")
        for _ in 0..<2 {
            await #expect(throws: ObjectStoreError.self) { _ = try await store.get("sessions/a") }
        }
        #expect(try await store.get("sessions/a") == [1], "spent after two")
        #expect(store.count(.get, nameContains: "sessions/") == 4)
        #expect(store.count(.put) == 2)
        #expect(store.faultsStruck == 2)
    }

    @Test func afterPhaseDoesTheWorkAndStillFails() async throws {
        let memory = InMemoryStore()
        let store = FaultInjectingStore(memory)
        store.inject(.init(.put, phase: .after, error: ObjectStoreError.unavailable(store: "memory", detail: "answer lost")))
        await #expect(throws: ObjectStoreError.self) { try await store.put("index/i", [7]) }
        #expect(memory.contents["index/i"] == [7], "the store did the work; the caller never heard")
        #expect(try await store.put("index/i", [7]) == .alreadyExists)
    }

    @Test func beforePhaseNeverReachesTheStore() async throws {
        let memory = InMemoryStore()
        let store = FaultInjectingStore(memory)
        store.inject(.init(.put, error: ObjectStoreError.storageFull(store: "memory", detail: "ENOSPC (injected)")))
        await #expect(throws: ObjectStoreError.self) { try await store.put("index/i", [7]) }
        #expect(memory.contents["index/i"] == nil)
    }

    @Test func hooksRunAtTheCall() async throws {
        let store = FaultInjectingStore(InMemoryStore())
        let seen = Mutex<[String]>([])
        store.inject(.init(.delete, times: .max, hook: { operation, names in seen.withLock { $0 += names } }))
        try await store.put("a", [1])
        try await store.delete(["a", "b"])
        #expect(seen.withLock { $0 } == ["a", "b"])
        #expect(try await store.head("a") == nil, "a hook without an error lets the call through")
    }
}
