import Synchronization

/// Bounds how many pack reads are in flight; a reader waiting for its own data goes before
/// read-ahead that nobody waits for yet.
final class FetchLimiter: Sendable {
    enum Priority: Sendable {
        case demand
        case readAhead
    }

    private struct State {
        var available: Int
        var demand: [CheckedContinuation<Void, Never>] = []
        var readAhead: [CheckedContinuation<Void, Never>] = []
    }

    private let state: Mutex<State>

    init(width: Int) {
        state = Mutex(State(available: max(1, width)))
    }

    func acquire(_ priority: Priority) async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let granted = state.withLock { state -> Bool in
                if state.available > 0 {
                    state.available -= 1
                    return true
                }
                switch priority {
                case .demand: state.demand.append(continuation)
                case .readAhead: state.readAhead.append(continuation)
                }
                return false
            }
            if granted { continuation.resume() }
        }
    }

    func release() {
        let next = state.withLock { state -> CheckedContinuation<Void, Never>? in
            if !state.demand.isEmpty { return state.demand.removeFirst() }
            if !state.readAhead.isEmpty { return state.readAhead.removeFirst() }
            state.available += 1
            return nil
        }
        next?.resume()
    }

    /// Runs `body` holding one slot.
    func run<T: Sendable>(_ priority: Priority, _ body: () async throws -> T) async throws -> T {
        await acquire(priority)
        defer { release() }
        return try await body()
    }
}
