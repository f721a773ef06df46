extension Repository {
    /// The newest snapshot named `name` (that holds a volume named `volume`, when one is given):
    /// the parent an incremental backup compares against.
    public func latestSnapshot(named name: String, holding volume: String? = nil) async throws -> Snapshot? {
        try await snapshots().snapshots.last { snapshot in
            snapshot.manifest.name == name && (volume.map { volume in snapshot.manifest.volumes.contains { $0.name == volume } } ?? true)
        }
    }
}
