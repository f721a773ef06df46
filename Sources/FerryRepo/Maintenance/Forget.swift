import Foundation

/// Which snapshots a retention policy forgets: the one rule set that `ferry forget` and a
/// plan's retention in the cluster share. The policy (restic's rules) is applied per snapshot
/// name, and then a guard no policy overrides: in each group the newest snapshot holding each
/// volume, and the newest holding each application's objects, is kept. A snapshot where a
/// volume failed lacks that volume, so a policy counting snapshots alone would forget the only
/// copy of its data.
public enum Forget {
    /// The calendar retention buckets use: Gregorian, in the process's time zone (TZ).
    public static var calendar: Calendar {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone.current
        return calendar
    }

    /// The decision for every snapshot, grouped by name (groups sorted, each newest first).
    public static func decide(_ snapshots: [Snapshot], policy: RetentionPolicy, calendar: Calendar = Forget.calendar) -> [RetentionDecision]
    {
        let groups = Dictionary(grouping: snapshots, by: \.manifest.name)
        var decisions: [RetentionDecision] = []
        for name in groups.keys.sorted() {
            let guarded = lastCopies(in: groups[name]!)
            decisions += policy.apply(to: groups[name]!, calendar: calendar).map { decision in
                var decision = decision
                if let reasons = guarded[decision.snapshot.id] {
                    decision.reasons += reasons
                    decision.keep = true
                }
                return decision
            }
        }
        return decisions
    }

    /// The snapshots of one group that hold the newest copy of some volume or application's
    /// objects, with why ("last copy of volume app/data").
    public static func lastCopies(in group: [Snapshot]) -> [ChunkID: [String]] {
        var newest: [String: Snapshot] = [:]
        for snapshot in group {
            var holds = snapshot.manifest.volumes.map { "volume \($0.name)" }
            if let resources = snapshot.manifest.resources { holds.append("objects of \(resources.application)") }
            for what in holds where newest[what].map({ ($0.manifest.time, $0.id) < (snapshot.manifest.time, snapshot.id) }) ?? true {
                newest[what] = snapshot
            }
        }
        var reasons: [ChunkID: [String]] = [:]
        for (what, snapshot) in newest.sorted(by: { $0.key < $1.key }) { reasons[snapshot.id, default: []].append("last copy of \(what)") }
        return reasons
    }

    /// Why removing `chosen` would lose the last copy of a volume or objects of a plan's
    /// backups (snapshot names `plan:…`, `cluster-plan:…`), given every snapshot in the
    /// repository; nil when it would not. Snapshots of other names are the user's to remove.
    public static func lastCopyLost(removing chosen: [Snapshot], among all: [Snapshot]) -> String? {
        let removed = Set(chosen.map(\.id))
        let plans = all.filter { isPlanSnapshot($0.manifest.name) }
        for (name, group) in Dictionary(grouping: plans, by: \.manifest.name).sorted(by: { $0.key < $1.key })
        where group.contains(where: { removed.contains($0.id) }) {
            let before = Set(lastCopies(in: group).values.flatMap { $0 })
            let after = Set(lastCopies(in: group.filter { !removed.contains($0.id) }).values.flatMap { $0 })
            if let lost = before.subtracting(after).sorted().first {
                return "snapshot name \(name): forgetting would remove the \(lost)"
            }
        }
        return nil
    }

    /// Whether a snapshot name is a cluster plan's (`plan:NS/NAME`, `cluster-plan:NAME`).
    public static func isPlanSnapshot(_ name: String) -> Bool {
        name.hasPrefix("plan:") || name.hasPrefix("cluster-plan:")
    }

    /// Deletes the snapshots the decisions remove; returns how many.
    @discardableResult
    public static func apply(_ decisions: [RetentionDecision], to repository: Repository) async throws -> Int {
        let removals = decisions.filter { !$0.keep }.map { ObjectName.snapshot($0.snapshot.id) }
        if !removals.isEmpty { try await repository.store.delete(removals) }
        return removals.count
    }
}
