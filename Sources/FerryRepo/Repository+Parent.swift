extension Repository {
    /// The newest snapshot named `name` (that holds a volume named `volume`, when one is given):
    /// the parent an incremental backup compares against. Manifests are read 256 at a time and
    /// only the best match so far is kept, so a repository of 10,000 snapshots is never held
    /// whole. Unreadable manifests are skipped (as `snapshots()` reports and skips them).
    public func latestSnapshot(named name: String, holding volume: String? = nil) async throws -> Snapshot? {
        let names = try await Self.wrap { try await store.list(prefix: ObjectName.snapshotsPrefix) }.map(\.name)
        var best: Snapshot?
        for start in stride(from: 0, to: names.count, by: 256) {
            for (object, bytes) in try await Self.fetchAll(Array(names[start..<min(names.count, start + 256)]), store: store) {
                guard let snapshot = try? decodeSnapshot(bytes, name: object), snapshot.manifest.name == name,
                    volume.map({ volume in snapshot.manifest.volumes.contains { $0.name == volume } }) ?? true
                else { continue }
                if let current = best, (snapshot.manifest.time, snapshot.id) < (current.manifest.time, current.id) { continue }
                best = snapshot
            }
        }
        return best
    }
}
