extension Repository {
    /// Reads, decrypts, decompresses and verifies many chunks at once: chunks that lie together
    /// in a pack (gaps under `maximumGap` read through, spans up to `maximumSpan`) come in one
    /// ranged GET, and packs are fetched `concurrency` at a time. What a restore of thousands of
    /// small captured objects needs instead of a round trip per object.
    public func readChunks(
        _ ids: [ChunkID], context: String, concurrency: Int = 8, maximumGap: Int64 = 1 << 20,
        maximumSpan: Int64 = 16 << 20
    ) async throws -> [ChunkID: [UInt8]] {
        var byPack: [String: [(ChunkID, ChunkLocation)]] = [:]
        for id in Set(ids) {
            guard let location = index.location(of: id) else { throw RepositoryError.missingChunk(id: id, context: context) }
            byPack[location.packName, default: []].append((id, location))
        }
        var spans: [[(ChunkID, ChunkLocation)]] = []
        for (_, chunks) in byPack {
            var span: [(ChunkID, ChunkLocation)] = []
            for chunk in chunks.sorted(by: { $0.1.offset < $1.1.offset }) {
                if let first = span.first, let last = span.last {
                    let end = Int64(last.1.offset) + Int64(last.1.length)
                    let next = Int64(chunk.1.offset)
                    if next - end > maximumGap || next + Int64(chunk.1.length) - Int64(first.1.offset) > maximumSpan {
                        spans.append(span)
                        span = []
                    }
                }
                span.append(chunk)
            }
            if !span.isEmpty { spans.append(span) }
        }
        return try await withThrowingTaskGroup(of: [(ChunkID, [UInt8])].self) { group in
            var results: [ChunkID: [UInt8]] = [:]
            var pending = spans[...]
            for _ in 0..<min(max(1, concurrency), spans.count) {
                let span = pending.removeFirst()
                group.addTask { try await self.read(span) }
            }
            while let chunks = try await group.next() {
                for (id, bytes) in chunks { results[id] = bytes }
                if let span = pending.popFirst() { group.addTask { try await self.read(span) } }
            }
            return results
        }
    }

    /// One ranged GET for chunks of one pack, each decoded from its slice.
    private func read(_ span: [(ChunkID, ChunkLocation)]) async throws -> [(ChunkID, [UInt8])] {
        let start = Int64(span[0].1.offset)
        let end = span.map { Int64($0.1.offset) + Int64($0.1.length) }.max()!
        let name = span[0].1.packName
        let bytes = try await Self.wrap { try await store.get(name, range: start..<end) }
        guard bytes.count == Int(end - start) else {
            throw RepositoryError.corruptObject(
                name: name, detail: "expected \(end - start) bytes at offset \(start), got \(bytes.count) (truncated)")
        }
        let codec = codec(for: span[0].1.pack)
        return try span.map { id, location in
            var plain = [UInt8](repeating: 0, count: Int(location.rawLength))
            let low = Int(Int64(location.offset) - start)
            try bytes.withUnsafeBytes { all in
                let record = UnsafeRawBufferPointer(rebasing: all[low..<(low + Int(location.length))])
                try plain.withUnsafeMutableBytes { try codec.decode(record, id: id, into: $0, pack: name) }
            }
            return (id, plain)
        }
    }
}
