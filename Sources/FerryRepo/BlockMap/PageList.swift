/// A volume's block-map page ids as one metadata chunk: what an agent stores instead of listing
/// every page id in a Kubernetes status (a volume of 90 TiB lists more than etcd's 1.5 MiB
/// object limit). The chunk is the ids' 32 bytes each, in page order.
public struct PageList: Codable, Sendable, Equatable {
    /// The metadata chunk holding the ids.
    public var id: ChunkID
    /// How many page ids it holds.
    public var count: Int

    public init(id: ChunkID, count: Int) {
        self.id = id
        self.count = count
    }

    /// Stores `pages` as a metadata chunk of `session` (flushed with the session's next flush).
    public static func store(_ pages: [ChunkID], in session: WriteSession) async throws -> PageList {
        var bytes = [UInt8](repeating: 0, count: pages.count * 32)
        bytes.withUnsafeMutableBytes { buffer in
            for (index, page) in pages.enumerated() { page.store(to: buffer, at: index * 32) }
        }
        return PageList(id: try await session.storeMetadata(bytes), count: pages.count)
    }

    /// Reads the page ids back (verified: the chunk's id is its content's keyed hash).
    public func load(from repository: Repository, volume: String) async throws -> [ChunkID] {
        let bytes = try await repository.readChunk(id, context: "page list of \(volume)")
        guard bytes.count == count * 32 else {
            throw RepositoryError.corruptObject(
                name: "page list \(id.short) of \(volume)", detail: "\(bytes.count) bytes, not \(count) page ids")
        }
        return bytes.withUnsafeBytes { raw in (0..<count).map { ChunkID(bytes: raw, at: $0 * 32) } }
    }
}
