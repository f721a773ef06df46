import FerryBlob
import Foundation
import Synchronization

/// Wraps a store and injects errors into chosen operations, for tests that must fail at an exact
/// phase: by operation, by object name and by how many matching calls came before, never by
/// timers. Every call is counted and logged. A fault can strike before the call reaches the
/// store (nothing happened) or after it (the store did the work, the caller hears an error),
/// and can run a hook at that moment instead of, or before, failing.
public final class FaultInjectingStore: ObjectStore, Sendable {
    /// What a caller asked of the store.
    public enum Operation: String, Sendable, CaseIterable {
        case put, get, getRange, head, list, delete, removeAbandonedWrites
    }

    /// When a fault strikes relative to the wrapped call.
    public enum Phase: Sendable {
        /// The store is never called.
        case before
        /// The store is called and its result thrown away.
        case after
    }

    /// Which calls a fault strikes and what it does.
    public struct Fault: Sendable {
        public var operation: Operation?
        /// A substring of the object name (or of the list prefix, or of any deleted name).
        public var nameContains: String?
        /// Matching calls to let through before striking.
        public var skip: Int
        /// Matching calls to strike, after the skipped ones; `Int.max` for all.
        public var times: Int
        public var phase: Phase
        /// The error to throw; nil only runs `hook`.
        public var error: (any Error & Sendable)?
        /// Runs when the fault strikes, before the error: tests act here, at exactly this call.
        public var hook: (@Sendable (Operation, [String]) async -> Void)?

        public init(
            _ operation: Operation? = nil, nameContains: String? = nil, skip: Int = 0, times: Int = 1, phase: Phase = .before,
            error: (any Error & Sendable)? = nil, hook: (@Sendable (Operation, [String]) async -> Void)? = nil
        ) {
            self.operation = operation
            self.nameContains = nameContains
            self.skip = skip
            self.times = times
            self.phase = phase
            self.error = error
            self.hook = hook
        }
    }

    /// One call the store saw.
    public struct Call: Sendable {
        public var operation: Operation
        public var names: [String]
        /// Whether a fault struck it.
        public var faulted: Bool
    }

    public let base: any ObjectStore
    private let state = Mutex<(faults: [Fault], calls: [Call])>(([], []))

    public init(_ base: any ObjectStore) {
        self.base = base
    }

    public var location: String { base.location }

    /// Adds a fault; the first fault that matches a call strikes it.
    public func inject(_ fault: Fault) {
        state.withLock { $0.faults.append(fault) }
    }

    public func removeAllFaults() {
        state.withLock { $0.faults = [] }
    }

    public var calls: [Call] {
        state.withLock { $0.calls }
    }

    /// How many calls of `operation` (naming something that contains `nameContains`) were made.
    public func count(_ operation: Operation, nameContains: String? = nil) -> Int {
        calls.filter { call in
            call.operation == operation && (nameContains.map { part in call.names.contains { $0.contains(part) } } ?? true)
        }.count
    }

    /// How many calls a fault struck.
    public var faultsStruck: Int {
        calls.filter(\.faulted).count
    }

    // MARK: - ObjectStore

    @discardableResult
    public func put(_ name: String, _ bytes: [UInt8], mode: PutMode) async throws -> PutOutcome {
        try await intercept(.put, [name]) { try await base.put(name, bytes, mode: mode) }
    }

    public func get(_ name: String) async throws -> [UInt8] {
        try await intercept(.get, [name]) { try await base.get(name) }
    }

    public func get(_ name: String, range: Range<Int64>) async throws -> [UInt8] {
        try await intercept(.getRange, [name]) { try await base.get(name, range: range) }
    }

    public func head(_ name: String) async throws -> ObjectInfo? {
        try await intercept(.head, [name]) { try await base.head(name) }
    }

    public func list(prefix: String) async throws -> [ObjectInfo] {
        try await intercept(.list, [prefix]) { try await base.list(prefix: prefix) }
    }

    public func delete(_ names: [String]) async throws {
        try await intercept(.delete, names) { try await base.delete(names) }
    }

    public func removeAbandonedWrites(startedBefore cutoff: Date) async throws -> AbandonedWrites {
        try await intercept(.removeAbandonedWrites, []) { try await base.removeAbandonedWrites(startedBefore: cutoff) }
    }

    public var capabilities: StoreCapabilities { base.capabilities }

    // MARK: - Matching

    private func intercept<T>(_ operation: Operation, _ names: [String], _ body: () async throws -> T) async throws -> T {
        let fault = state.withLock { state -> Fault? in
            var struck: Fault?
            for index in state.faults.indices {
                let fault = state.faults[index]
                guard fault.times > 0, fault.operation == nil || fault.operation == operation else { continue }
                if let part = fault.nameContains, !names.contains(where: { $0.contains(part) }) { continue }
                if fault.skip > 0 {
                    state.faults[index].skip -= 1
                    continue
                }
                state.faults[index].times -= fault.times == Int.max ? 0 : 1
                struck = fault
                break
            }
            state.calls.append(Call(operation: operation, names: names, faulted: struck != nil))
            return struck
        }
        guard let fault else { return try await body() }
        switch fault.phase {
        case .before:
            await fault.hook?(operation, names)
            if let error = fault.error { throw error }
            return try await body()
        case .after:
            let result = try await body()
            await fault.hook?(operation, names)
            if let error = fault.error { throw error }
            return result
        }
    }
}
