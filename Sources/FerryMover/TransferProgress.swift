import Synchronization

/// Live counters of a running backup or restore, safe to read from a progress display while
/// workers update them.
public final class TransferProgress: Sendable {
    public let total: Int64
    private let done = Atomic<Int64>(0)
    private let stored = Atomic<Int64>(0)

    public init(total: Int64) {
        self.total = total
    }

    /// Bytes of the volume processed so far (read, skipped or written).
    public var completed: Int64 { done.load(ordering: .relaxed) }
    /// Bytes added to the repository so far.
    public var bytesStored: Int64 { stored.load(ordering: .relaxed) }

    func advance(_ bytes: Int64) {
        done.add(bytes, ordering: .relaxed)
    }

    func setStored(_ bytes: Int64) {
        stored.store(bytes, ordering: .relaxed)
    }
}
