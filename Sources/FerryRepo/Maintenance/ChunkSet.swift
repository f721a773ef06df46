/// A set of chunk ids kept as one sorted array (32 bytes an id, half a hashed Set's footprint):
/// what prune holds for the millions of chunks the snapshots reference. Built once, then only
/// asked.
struct ChunkSet: Sendable {
    private var ids: [ChunkID]

    /// Collects ids, duplicates allowed, then sorts them once.
    struct Builder {
        private var ids: [ChunkID] = []
        mutating func insert(_ id: ChunkID) { ids.append(id) }
        mutating func insert<S: Sequence>(contentsOf more: S) where S.Element == ChunkID { ids.append(contentsOf: more) }

        consuming func build() -> ChunkSet {
            var ids = self.ids
            ids.sort()
            var unique = 0
            for index in ids.indices where index == 0 || ids[index] != ids[unique - 1] {
                ids[unique] = ids[index]
                unique += 1
            }
            ids.removeLast(ids.count - unique)
            return ChunkSet(ids: ids)
        }
    }

    var count: Int { ids.count }

    func contains(_ id: ChunkID) -> Bool {
        var low = 0, high = ids.count
        while low < high {
            let middle = (low + high) / 2
            if ids[middle] < id { low = middle + 1 } else { high = middle }
        }
        return low < ids.count && ids[low] == id
    }
}
