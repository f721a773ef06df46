import ArgumentParser
import FerryRepo
import Foundation

/// `ferry forget`: removes snapshots by a retention policy, per snapshot name.
struct ForgetCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "forget",
        abstract: "Remove snapshots by a retention policy.",
        discussion: """
            Snapshots are grouped by name; in each group a snapshot is kept when any rule keeps it, \
            and the newest snapshot holding each volume (or application's objects) is always kept, \
            so a backup where a volume failed never costs the last copy of that volume. \
            Forgetting removes only the snapshot records: run `ferry prune` to free the space. \
            Calendar rules use the local time zone (TZ).
            """)

    @Argument(help: ArgumentHelp("Snapshots to remove (ids or unique prefixes), instead of a policy.", valueName: "snapshot"))
    var snapshots: [String] = []

    @OptionGroup var repository: RepositoryOptions

    @Option(name: .long, help: "Only snapshots with this name.")
    var name: String?

    @Option(name: .long, help: ArgumentHelp("Keep the newest N snapshots.", valueName: "N")) var keepLast = 0
    @Option(name: .long, help: ArgumentHelp("Keep the newest snapshot of each of the last N hours.", valueName: "N")) var keepHourly = 0
    @Option(name: .long, help: ArgumentHelp("Keep the newest snapshot of each of the last N days.", valueName: "N")) var keepDaily = 0
    @Option(name: .long, help: ArgumentHelp("Keep the newest snapshot of each of the last N weeks.", valueName: "N")) var keepWeekly = 0
    @Option(name: .long, help: ArgumentHelp("Keep the newest snapshot of each of the last N months.", valueName: "N")) var keepMonthly = 0
    @Option(name: .long, help: ArgumentHelp("Keep the newest snapshot of each of the last N years.", valueName: "N")) var keepYearly = 0
    @Option(
        name: .long,
        help: ArgumentHelp("Keep everything within this span of the newest snapshot (e.g. 1y6m, 30d, 2w, 12h).", valueName: "duration"))
    var keepWithin: String?

    @Flag(name: .long, help: "Show what would be removed without removing it.")
    var dryRun = false

    @Flag(name: .long, help: "Print a JSON array of decisions.")
    var json = false

    @Flag(name: .long, help: "Remove named snapshots of a cluster plan even when one holds the last copy of a volume.")
    var force = false

    func run() async throws {
        var within: RetentionDuration?
        if let keepWithin {
            guard let parsed = RetentionDuration(keepWithin) else {
                throw ValidationError("--keep-within takes a span like 1y6m, 30d, 2w or 12h")
            }
            within = parsed
        }
        for (flag, value) in [
            ("--keep-last", keepLast), ("--keep-hourly", keepHourly), ("--keep-daily", keepDaily), ("--keep-weekly", keepWeekly),
            ("--keep-monthly", keepMonthly), ("--keep-yearly", keepYearly),
        ] where value < 0 {
            throw ValidationError("\(flag) must not be negative")
        }
        let policy = RetentionPolicy(
            last: keepLast, hourly: keepHourly, daily: keepDaily, weekly: keepWeekly, monthly: keepMonthly, yearly: keepYearly,
            within: within)
        if !snapshots.isEmpty {
            guard policy.isEmpty, name == nil else { throw ValidationError("give either snapshot ids or a policy, not both") }
            try await forgetExplicitly()
            return
        }
        guard !policy.isEmpty else {
            throw ValidationError(
                "no retention rule given (--keep-last, --keep-daily, ..., --keep-within): refusing to remove every snapshot")
        }
        let repo = try await repository.open(loadIndex: false)
        let (all, problems) = try await repo.snapshots()
        for problem in problems { Terminal.error("warning: \(problem)") }
        let decisions = Forget.decide(all.filter { name == nil || $0.manifest.name == name }, policy: policy)
        let removals = decisions.filter { !$0.keep }
        if !dryRun {
            try await Forget.apply(decisions, to: repo)
        }
        if json {
            try Terminal.json(
                decisions.map {
                    ForgetDecision(
                        id: $0.snapshot.id.hex, name: $0.snapshot.manifest.name, time: $0.snapshot.manifest.time,
                        action: $0.keep ? "keep" : "remove", reasons: $0.reasons)
                })
            return
        }
        let formatter = ISO8601DateFormatter()
        formatter.timeZone = TimeZone.current
        var rows = [["ACTION", "ID", "TIME", "NAME", "RULES"]]
        for d in decisions {
            rows.append([
                d.keep ? "keep" : (dryRun ? "would remove" : "remove"), d.snapshot.id.short,
                formatter.string(from: d.snapshot.manifest.time), d.snapshot.manifest.name, d.reasons.joined(separator: ", "),
            ])
        }
        Terminal.table(rows)
        Terminal.error("\(decisions.count - removals.count) kept, \(removals.count) \(dryRun ? "would be " : "")removed")
    }
}

extension ForgetCommand {
    /// Removes the snapshots named on the command line.
    private func forgetExplicitly() async throws {
        let repo = try await repository.open(loadIndex: false)
        var chosen: [Snapshot] = []
        for text in snapshots { chosen.append(try await repo.snapshot(matching: text)) }
        if !force, let lost = Forget.lastCopyLost(removing: chosen, among: try await repo.snapshots().snapshots) {
            throw CLIError("\(lost); give --force to remove it anyway")
        }
        if !dryRun {
            try await repo.store.delete(chosen.map { ObjectName.snapshot($0.id) })
        }
        if json {
            try Terminal.json(
                chosen.map {
                    ForgetDecision(id: $0.id.hex, name: $0.manifest.name, time: $0.manifest.time, action: "remove", reasons: ["named"])
                })
        } else {
            for snapshot in chosen {
                Terminal.error("\(dryRun ? "would remove" : "removed") snapshot \(snapshot.id.short) of \(snapshot.manifest.name)")
            }
        }
    }
}

/// One entry of `ferry forget --json`.
struct ForgetDecision: Encodable {
    var id: String
    var name: String
    var time: Date
    var action: String
    var reasons: [String]
}
