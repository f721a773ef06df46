import FerryRepo
import Synchronization

/// Where the mount reports what its readers cannot see (a damaged chunk behind an EIO, a store
/// error). Each damaged chunk is reported once, not on every retry of the same read.
public final class MountLog: Sendable {
    private let sink: @Sendable (String) -> Void
    private let reported = Mutex<Set<ChunkID>>([])

    public init(_ sink: @escaping @Sendable (String) -> Void) {
        self.sink = sink
    }

    public func write(_ line: String) {
        sink(line)
    }

    /// Reports a chunk that could not be served, the first time only.
    func chunkFailed(_ id: ChunkID, pack: String?, error: any Error) {
        guard reported.withLock({ $0.insert(id).inserted }) else { return }
        let location = pack.map { " in \($0)" } ?? ""
        sink("chunk \(id.hex)\(location) cannot be served: \(error); reads that need it fail with EIO")
    }
}
