import Synchronization

/// Runs uploads in the background with a bound on how many are in flight, so the workers that
/// fill packs keep working while earlier packs travel to the store, and memory stays bounded
/// (a submitter waits while the bound is reached). The first failure is kept and thrown to
/// every later `submit` and to `drain`.
final class UploadQueue: Sendable {
    private struct State {
        var inFlight = 0
        var waiting: [CheckedContinuation<Void, Never>] = []
        var tasks: [Task<Void, Never>] = []
        var failure: (any Error)?
    }

    let limit: Int
    private let state = Mutex(State())

    init(limit: Int) {
        self.limit = max(1, limit)
    }

    /// Starts `work` once fewer than `limit` uploads are running.
    func submit(_ work: @escaping @Sendable () async throws -> Void) async throws {
        if let failure = state.withLock({ $0.failure }) { throw failure }
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let admitted = state.withLock { state -> Bool in
                guard state.inFlight < limit else {
                    state.waiting.append(continuation)
                    return false
                }
                state.inFlight += 1
                return true
            }
            if admitted { continuation.resume() }
        }
        let task = Task {
            do {
                try await work()
            } catch {
                state.withLock { if $0.failure == nil { $0.failure = error } }
            }
            let next = state.withLock { state -> CheckedContinuation<Void, Never>? in
                guard !state.waiting.isEmpty else {
                    state.inFlight -= 1
                    return nil
                }
                return state.waiting.removeFirst() // the slot passes straight to a waiter
            }
            next?.resume()
        }
        state.withLock { $0.tasks.append(task) }
    }

    /// Waits for every submitted upload; throws the first failure.
    func drain() async throws {
        while true {
            let tasks = state.withLock { state in
                defer { state.tasks = [] }
                return state.tasks
            }
            if tasks.isEmpty { break }
            for task in tasks { await task.value }
        }
        if let failure = state.withLock({ $0.failure }) { throw failure }
    }

    /// Cancels what is running (after a failure elsewhere).
    func cancel() {
        for task in state.withLock({ $0.tasks }) { task.cancel() }
    }
}
