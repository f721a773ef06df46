/// How much detail a job's status holds. A write carries the whole object, and etcd refuses
/// requests over 1.5 MiB: a Backup of 10,000 volumes that listed each one could not record its
/// own progress, and failed. Past these bounds the status keeps counts (`progress`) and the
/// entries that matter most (failures first); each volume's VolumeTransfer and the
/// coordinator's log keep the rest.
///
/// At the bounds the status stays under about 0.8 MiB: volumes ~1.3 KiB each, hooks ~2.5 KiB,
/// messages 1 KiB, names ~0.1 KiB.
public struct JobStatusBounds: Sendable, Equatable {
    /// Entries of `volumes`.
    public var volumes = 200
    /// Entries of `hooks` (one per hook and pod).
    public var hooks = 100
    /// Entries of `warnings`, `errors` and a Restore's `volumesSkipped`.
    public var messages = 100
    /// Entries of a Restore's `volumesRestored` and `skipped` (names).
    public var names = 1_000
    /// Characters of any one message.
    public var messageLength = 1_024

    public init() {}

    public static let standard = JobStatusBounds()

    /// `text`, cut to `messageLength` characters.
    public func message(_ text: String) -> String {
        text.count <= messageLength ? text : String(text.prefix(messageLength - 1)) + "…"
    }

    /// The first `limit` of `entries` (each cut to `messageLength`); past it, the last entry
    /// says how many more there were and where they are.
    public func list(_ entries: [String]?, limit: Int, rest: String) -> [String]? {
        guard let entries else { return nil }
        guard entries.count > limit else { return entries.map(message) }
        return entries.prefix(limit - 1).map(message) + ["… and \(entries.count - limit + 1) more (\(rest))"]
    }

    /// The entries of `volumes` to list, in their order: all of them if they fit, else the
    /// failed first, then those running, not moved, pending and succeeded.
    public func listed(_ volumes: [VolumeProgress]) -> [VolumeProgress] {
        let cut = { (volume: VolumeProgress) -> VolumeProgress in
            var volume = volume
            volume.message = volume.message.map(message)
            return volume
        }
        guard volumes.count > self.volumes else { return volumes.map(cut) }
        let order: [VolumePhase] = [.failed, .running, .notMoved, .pending, .succeeded]
        let rank = Dictionary(uniqueKeysWithValues: order.enumerated().map { ($1, $0) })
        let chosen = volumes.indices.sorted { (rank[volumes[$0].phase]!, $0) < (rank[volumes[$1].phase]!, $1) }.prefix(self.volumes)
        return chosen.sorted().map { cut(volumes[$0]) }
    }

    /// The hook results to list: all if they fit, else the failed first.
    public func listed(_ hooks: [HookResult]) -> [HookResult] {
        guard hooks.count > self.hooks else { return hooks }
        let chosen = hooks.indices.sorted { (hooks[$0].phase == .succeeded ? 1 : 0, $0) < (hooks[$1].phase == .succeeded ? 1 : 0, $1) }
        return chosen.prefix(self.hooks).sorted().map { hooks[$0] }
    }
}

extension JobStatus {
    /// Records every volume of the job: their counts in `progress`, and as many as the bounds
    /// allow in `volumes`.
    public mutating func record(volumes all: [VolumeProgress], bounds: JobStatusBounds = .standard) {
        progress = VolumeCounts(all)
        let listed = bounds.listed(all)
        volumes = listed
        volumesOmitted = all.count > listed.count ? all.count - listed.count : nil
    }

    /// The status cut to `bounds`, so it fits one write.
    public func bounded(_ bounds: JobStatusBounds = .standard) -> Self {
        var status = self
        if let volumes {
            let listed = bounds.listed(volumes)
            status.volumes = listed
            let omitted = (volumesOmitted ?? 0) + volumes.count - listed.count
            status.volumesOmitted = omitted > 0 ? omitted : nil
            // Counts made from every volume stand; this list may be a part of them.
            status.progress = progress ?? VolumeCounts(volumes)
        }
        if let hooks, hooks.count > bounds.hooks { status.hooks = bounds.listed(hooks) }
        let elsewhere = "the coordinator's log has every one"
        status.warnings = bounds.list(warnings, limit: bounds.messages, rest: elsewhere)
        status.errors = bounds.list(errors, limit: bounds.messages, rest: elsewhere)
        status.boundDetails(bounds)
        return status
    }
}
