import Synchronization

/// The hand-over between the engine thread, which offers body chunks as they arrive, and the task
/// reading a streamed response. When the reader falls behind by `limit` bytes the transfer is
/// paused, and resumed once the reader has caught up halfway.
final class ResponseStream: Sendable {
    typealias Head = (status: Int, headers: HTTPHeaders)

    private struct State {
        var head: Head?
        var headWaiter: CheckedContinuation<Result<Head, HTTPError>, Never>?
        var chunks: [[UInt8]] = []
        var first = 0
        var buffered = 0
        var paused = false
        var done = false
        var error: HTTPError?
        var waiter: CheckedContinuation<Result<[UInt8]?, HTTPError>, Never>?
        var control: TransferControl?
    }

    private let state: Mutex<State>
    private let limit: Int

    init(limit: Int) {
        self.limit = limit
        state = Mutex(State())
    }

    /// Connects the stream to the transfer it reads (resume after a pause, cancel).
    func attach(_ control: TransferControl) {
        state.withLock { $0.control = control }
    }

    // MARK: - Engine side

    func deliverHead(status: Int, headers: HTTPHeaders) {
        let waiter = state.withLock { state -> CheckedContinuation<Result<Head, HTTPError>, Never>? in
            state.head = (status, headers)
            defer { state.headWaiter = nil }
            return state.headWaiter
        }
        waiter?.resume(returning: .success((status, headers)))
    }

    /// Takes a chunk, or returns false to have the transfer paused (curl offers it again later).
    func offer(_ chunk: UnsafeRawBufferPointer) -> Bool {
        let (accepted, waiter) = state.withLock { state -> (Bool, CheckedContinuation<Result<[UInt8]?, HTTPError>, Never>?) in
            if state.done { return (true, nil) }
            if let waiter = state.waiter {
                state.waiter = nil
                return (true, waiter)
            }
            if state.buffered >= limit {
                state.paused = true
                return (false, nil)
            }
            state.chunks.append(Array(chunk))
            state.buffered += chunk.count
            return (true, nil)
        }
        waiter?.resume(returning: .success(Array(chunk)))
        return accepted
    }

    func finish(_ error: HTTPError?) {
        let (headWaiter, waiter) = state.withLock { state in
            state.done = true
            state.error = error
            state.control = nil
            defer {
                state.headWaiter = nil
                state.waiter = nil
            }
            return (state.headWaiter, state.waiter)
        }
        headWaiter?.resume(returning: .failure(error ?? .shutdown))
        if let error {
            waiter?.resume(returning: .failure(error))
        } else {
            waiter?.resume(returning: .success(nil))
        }
    }

    // MARK: - Reader side

    func head() async -> Result<Head, HTTPError> {
        await withCheckedContinuation { continuation in
            let ready = state.withLock { state -> Result<Head, HTTPError>? in
                if let head = state.head { return .success(head) }
                if state.done { return .failure(state.error ?? .shutdown) }
                state.headWaiter = continuation
                return nil
            }
            if let ready { continuation.resume(returning: ready) }
        }
    }

    func next() async -> Result<[UInt8]?, HTTPError> {
        await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                let (ready, resume) = state.withLock { state -> (Result<[UInt8]?, HTTPError>?, TransferControl?) in
                    if state.first < state.chunks.count {
                        let chunk = state.chunks[state.first]
                        state.chunks[state.first] = []
                        state.first += 1
                        if state.first == state.chunks.count {
                            state.chunks.removeAll(keepingCapacity: true)
                            state.first = 0
                        }
                        state.buffered -= chunk.count
                        var resume: TransferControl?
                        if state.paused && state.buffered <= limit / 2 {
                            state.paused = false
                            resume = state.control
                        }
                        return (.success(chunk), resume)
                    }
                    if state.done {
                        if let error = state.error { return (.failure(error), nil) }
                        return (.success(nil), nil)
                    }
                    state.waiter = continuation
                    return (nil, nil)
                }
                resume?.resume()
                if let ready { continuation.resume(returning: ready) }
            }
        } onCancel: {
            cancel()
        }
    }

    /// Stops the transfer; the reader sees `HTTPError.cancelled`.
    func cancel() {
        let control = state.withLock { $0.done ? nil : $0.control }
        control?.cancel()
    }
}

/// What a stream or pipe may ask of the engine running its transfer.
struct TransferControl: Sendable {
    let resume: @Sendable () -> Void
    let cancel: @Sendable () -> Void
}
