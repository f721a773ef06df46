import Foundation

/// Runs blocking work (file and device I/O, fsync) on a fixed set of dedicated threads, so that
/// async code never blocks the cooperative thread pool while it waits for a disk.
public final class BlockingExecutor: Sendable {
    private let queue: DispatchQueue
    private let slots: DispatchSemaphore

    /// A shared executor sized for storage I/O.
    public static let io = BlockingExecutor(label: "ferry.io", width: 16)

    /// - Parameter width: how many blocking calls may run at once.
    public init(label: String, width: Int) {
        queue = DispatchQueue(label: label, attributes: .concurrent)
        slots = DispatchSemaphore(value: width)
    }

    /// Runs `body` on an executor thread and returns its result to the awaiting task.
    public func run<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            queue.async { [slots] in
                slots.wait()
                defer { slots.signal() }
                continuation.resume(with: Result { try body() })
            }
        }
    }
}
