import Synchronization

/// A bounded LRU cache whose misses are fetched once: the first caller that misses a key gets a
/// `Flight` to complete, later callers wait on the same flight. Values enter the cache only when
/// their flight succeeds; failures are handed to every waiter and not remembered, so the next
/// read tries again.
public final class FlightCache<Key: Hashable & Sendable, Value: Sendable>: Sendable {
    /// What `claim` found.
    public enum Claim: Sendable {
        case cached(Value)
        /// Someone else is fetching it: wait on the flight.
        case waiting(Flight)
        /// Nobody is: the caller must fetch it and `complete` the flight.
        case mine(Flight)
    }

    /// One fetch in progress that any number of readers can await.
    public final class Flight: Sendable {
        public let key: Key
        private let state = Mutex<(result: Result<Value, any Error>?, waiters: [CheckedContinuation<Value, any Error>])>((nil, []))

        init(key: Key) {
            self.key = key
        }

        /// The fetched value, once the flight is complete.
        public func value() async throws -> Value {
            try await withCheckedThrowingContinuation { continuation in
                let ready = state.withLock { state -> Result<Value, any Error>? in
                    if let result = state.result { return result }
                    state.waiters.append(continuation)
                    return nil
                }
                if let ready { continuation.resume(with: ready) }
            }
        }

        /// The result if the flight has completed.
        public var result: Result<Value, any Error>? { state.withLock { $0.result } }

        fileprivate func resolve(_ result: Result<Value, any Error>) {
            let waiters = state.withLock { state in
                state.result = result
                defer { state.waiters = [] }
                return state.waiters
            }
            for waiter in waiters { waiter.resume(with: result) }
        }
    }

    /// The most the cached values may cost (bytes, usually).
    public let capacity: Int
    private let cost: @Sendable (Value) -> Int
    private let state: Mutex<State>

    struct State {
        var lru = LRUList<Key, Value>()
        var flights: [Key: Flight] = [:]
    }

    public init(capacity: Int, cost: @escaping @Sendable (Value) -> Int) {
        self.capacity = capacity
        self.cost = cost
        state = Mutex(State())
    }

    /// The cached value for `key` (marking it recently used), or nil.
    public func cached(_ key: Key) -> Value? {
        state.withLock { $0.lru.get(key) }
    }

    /// Whether `key` is cached or being fetched (without touching the LRU order).
    public func isPresentOrInFlight(_ key: Key) -> Bool {
        state.withLock { $0.lru.contains(key) || $0.flights[key] != nil }
    }

    /// The cached value, the flight already fetching it, or a new flight the caller must complete.
    public func claim(_ key: Key) -> Claim {
        state.withLock { state in
            if let value = state.lru.get(key) { return .cached(value) }
            if let flight = state.flights[key] { return .waiting(flight) }
            let flight = Flight(key: key)
            state.flights[key] = flight
            return .mine(flight)
        }
    }

    /// Ends a flight the caller claimed: a success is cached (evicting the least recently used
    /// values beyond the capacity), and every waiter gets the result.
    public func complete(_ flight: Flight, with result: Result<Value, any Error>) {
        let cost = self.cost
        let capacity = self.capacity
        state.withLock { state in
            state.flights[flight.key] = nil
            if case .success(let value) = result {
                state.lru.insert(flight.key, value, cost: cost(value), capacity: capacity)
            }
        }
        flight.resolve(result)
    }

    /// Returns the cached value or fetches it once with `load`, sharing the fetch with concurrent callers.
    public func value(for key: Key, load: @Sendable () async throws -> Value) async throws -> Value {
        switch claim(key) {
        case .cached(let value):
            return value
        case .waiting(let flight):
            return try await flight.value()
        case .mine(let flight):
            let result: Result<Value, any Error>
            do {
                result = .success(try await load())
            } catch {
                result = .failure(error)
            }
            complete(flight, with: result)
            return try result.get()
        }
    }

    /// Total cost of what is cached now.
    public var cachedCost: Int { state.withLock { $0.lru.cost } }
    /// Number of cached values.
    public var count: Int { state.withLock { $0.lru.count } }
}

/// Least-recently-used order over keys with a cost per value: a doubly linked list threaded
/// through an array of slots (no per-entry heap objects), with a map from key to slot.
struct LRUList<Key: Hashable, Value> {
    private struct Slot {
        var key: Key
        var value: Value?
        var cost: Int
        var newer: Int
        var older: Int
    }

    private var slots: [Slot] = []
    private var free: [Int] = []
    private var map: [Key: Int] = [:]
    /// Most and least recently used slots (-1 when empty).
    private var newest = -1
    private var oldest = -1
    private(set) var cost = 0

    var count: Int { map.count }

    func contains(_ key: Key) -> Bool { map[key] != nil }

    mutating func get(_ key: Key) -> Value? {
        guard let i = map[key] else { return nil }
        unlink(i)
        pushNewest(i)
        return slots[i].value
    }

    /// Inserts (or replaces) `key`, then evicts the oldest entries while the total cost exceeds
    /// `capacity` (never the entry just inserted).
    mutating func insert(_ key: Key, _ value: Value, cost: Int, capacity: Int) {
        if let i = map[key] {
            self.cost += cost - slots[i].cost
            slots[i].value = value
            slots[i].cost = cost
            unlink(i)
            pushNewest(i)
        } else {
            let slot = Slot(key: key, value: value, cost: cost, newer: -1, older: -1)
            let i: Int
            if let reused = free.popLast() {
                slots[reused] = slot
                i = reused
            } else {
                slots.append(slot)
                i = slots.count - 1
            }
            map[key] = i
            self.cost += cost
            pushNewest(i)
        }
        while self.cost > capacity, oldest != -1, oldest != newest {
            remove(oldest)
        }
    }

    private mutating func remove(_ i: Int) {
        unlink(i)
        map[slots[i].key] = nil
        cost -= slots[i].cost
        slots[i].value = nil
        free.append(i)
    }

    private mutating func unlink(_ i: Int) {
        let newer = slots[i].newer
        let older = slots[i].older
        if newer != -1 { slots[newer].older = older } else { newest = older }
        if older != -1 { slots[older].newer = newer } else { oldest = newer }
        slots[i].newer = -1
        slots[i].older = -1
    }

    private mutating func pushNewest(_ i: Int) {
        slots[i].older = newest
        slots[i].newer = -1
        if newest != -1 { slots[newest].newer = i }
        newest = i
        if oldest == -1 { oldest = i }
    }
}
