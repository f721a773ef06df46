import FerryRepo
import Synchronization

/// The open data packs of a backup: a worker takes one to append a chunk and gives it back, so
/// there are never more open packs than workers, and they live across block-map pages.
final class PackPool: Sendable {
    let session: WriteSession
    private let maxChunk: Int
    private let idle = Mutex<[PackBuilder]>([])

    init(session: WriteSession, maxChunk: Int) {
        self.session = session
        self.maxChunk = maxChunk
    }

    func take() -> PackBuilder {
        idle.withLock { $0.popLast() } ?? session.makeDataPack(maxChunk: maxChunk)
    }

    func put(_ builder: PackBuilder) {
        idle.withLock { $0.append(builder) }
    }

    /// Stores every partly filled pack.
    func flush() async throws {
        let open = idle.withLock { builders in
            defer { builders = [] }
            return builders
        }
        for builder in open where !builder.isEmpty {
            try await session.store(builder)
        }
    }
}
