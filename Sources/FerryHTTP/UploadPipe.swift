import Synchronization

/// The hand-over between the task producing a streamed request body and the engine thread that
/// sends it. The producer waits when `limit` bytes are queued; the sender pauses the transfer
/// when the queue is empty and is resumed by the next chunk.
final class UploadPipe: Sendable {
    enum ReadResult {
        case bytes(Int)
        case paused
        case failed(String)
    }

    private struct State {
        var chunks: [[UInt8]] = []
        var first = 0
        var offset = 0
        var buffered = 0
        var produced: Int64 = 0
        var ended = false
        var failure: String?
        var closed = false
        var readPaused = false
        var spaceWaiter: CheckedContinuation<Void, Never>?
        var control: TransferControl?
    }

    private let state = Mutex(State())
    private let limit: Int
    let declaredLength: Int64?

    init(declaredLength: Int64?, limit: Int) {
        self.declaredLength = declaredLength
        self.limit = limit
    }

    func attach(_ control: TransferControl) {
        state.withLock { $0.control = control }
    }

    // MARK: - Producer side

    /// Queues a chunk, waiting while the queue is full. Returns false once the transfer is over.
    func push(_ chunk: [UInt8]) async -> Bool {
        while true {
            let (queued, resume) = state.withLock { state -> (Bool?, TransferControl?) in
                if state.closed { return (false, nil) }
                if state.buffered >= limit { return (nil, nil) }
                state.produced += Int64(chunk.count)
                if let declared = declaredLength, state.produced > declared {
                    state.failure = "the body stream produced more than the declared \(declared) bytes"
                } else if !chunk.isEmpty {
                    state.chunks.append(chunk)
                    state.buffered += chunk.count
                }
                return (true, takeResume(&state))
            }
            resume?.resume()
            if let queued { return queued }
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let ready = state.withLock { state -> Bool in
                    if state.closed || state.buffered < limit { return true }
                    state.spaceWaiter = continuation
                    return false
                }
                if ready { continuation.resume() }
            }
        }
    }

    /// The producer has no more chunks.
    func end() {
        let resume = state.withLock { state -> TransferControl? in
            state.ended = true
            if let declared = declaredLength, state.produced != declared, state.failure == nil {
                state.failure = "the body stream produced \(state.produced) bytes, not the declared \(declared)"
            }
            return takeResume(&state)
        }
        resume?.resume()
    }

    /// The producer failed.
    func fail(_ reason: String) {
        let resume = state.withLock { state -> TransferControl? in
            state.failure = state.failure ?? reason
            return takeResume(&state)
        }
        resume?.resume()
    }

    private func takeResume(_ state: inout State) -> TransferControl? {
        guard state.readPaused else { return nil }
        state.readPaused = false
        return state.control
    }

    // MARK: - Engine side

    func read(into buffer: UnsafeMutableRawBufferPointer) -> ReadResult {
        let (result, waiter) = state.withLock { state -> (ReadResult, CheckedContinuation<Void, Never>?) in
            if let failure = state.failure { return (.failed(failure), nil) }
            var copied = 0
            while copied < buffer.count && state.first < state.chunks.count {
                let chunk = state.chunks[state.first]
                let count = min(chunk.count - state.offset, buffer.count - copied)
                chunk.withUnsafeBytes { source in
                    (buffer.baseAddress! + copied).copyMemory(from: source.baseAddress! + state.offset, byteCount: count)
                }
                copied += count
                state.offset += count
                if state.offset == chunk.count {
                    state.chunks[state.first] = []
                    state.first += 1
                    state.offset = 0
                }
            }
            if state.first == state.chunks.count {
                state.chunks.removeAll(keepingCapacity: true)
                state.first = 0
            }
            state.buffered -= copied
            var waiter: CheckedContinuation<Void, Never>?
            if state.buffered < limit {
                waiter = state.spaceWaiter
                state.spaceWaiter = nil
            }
            if copied > 0 { return (.bytes(copied), waiter) }
            if state.ended { return (.bytes(0), waiter) }
            state.readPaused = true
            return (.paused, waiter)
        }
        waiter?.resume()
        return result
    }

    /// The transfer is over: a waiting producer is released and further pushes are refused.
    func close() {
        let waiter = state.withLock { state -> CheckedContinuation<Void, Never>? in
            state.closed = true
            state.control = nil
            defer { state.spaceWaiter = nil }
            return state.spaceWaiter
        }
        waiter?.resume()
    }
}
