import FerryAPI
import FerryKube
import FerryRepo
import Foundation

/// Runs what is scheduled: Backups for BackupPlans and ClusterBackupPlans with a `schedule`
/// (each due time gets one Backup named after the plan and that time, `web-20261122093000`, in
/// the plan's namespace or, for a cluster plan, the coordinator's own; so a new leader repeating
/// the work gets AlreadyExists rather than a second backup), and prunes of Targets with a
/// `prune.schedule`. After downtime only the latest missed time is acted on, not every one.
/// `status.lastScheduleTime` / `status.lastPruneTime` record the last time handled.
struct Scheduler: Sendable {
    let client: KubeClient
    let namespace: String?
    /// Where the Backups of ClusterBackupPlans go (nil: cluster plans are not scheduled).
    var adminNamespace: String?
    let status: StatusWriter
    let connector: TargetConnector
    let log: @Sendable (String) -> Void
    /// The longest sleep between looks at the plans (plans added or changed are seen then).
    var poll: Duration = .seconds(10)

    var ferry: FerryClient { status.client }

    func run() async throws {
        let targets = TargetMonitor(status: status, connector: connector, log: log)
        while true {
            var sleep = poll
            // Each kind on its own: a failure with one (the API, a Target) must not stop the others.
            do {
                for plan in try await ferry.list(BackupPlan.self, namespace: namespace).objects {
                    if let wait = try await handle(plan, cluster: false) { sleep = min(sleep, wait) }
                }
            } catch {
                log("scheduler: BackupPlans: \(error)")
            }
            if adminNamespace != nil {
                do {
                    // Charts older than ClusterBackupPlan do not serve it; asked again each round.
                    if (try? await ferry.resource(.clusterBackupPlan)) != nil {
                        for plan in try await ferry.list(ClusterBackupPlan.self, namespace: nil).objects {
                            if let wait = try await handle(plan, cluster: true) { sleep = min(sleep, wait) }
                        }
                    }
                } catch {
                    log("scheduler: ClusterBackupPlans: \(error)")
                }
            }
            do {
                for target in try await ferry.list(Target.self, namespace: namespace).objects {
                    sleep = min(sleep, try await targets.check(target))
                    if let wait = try await prune(target) { sleep = min(sleep, wait) }
                }
            } catch {
                log("scheduler: Targets: \(error)")
            }
            try await Task.sleep(for: max(sleep, .milliseconds(100)))
        }
    }

    /// The schedule's state for an object: nil when it has none; an error when it is malformed.
    enum Timing {
        /// Due now at this time (the latest of those passed), `skipped` earlier ones missed.
        case due(Date, skipped: Int, then: Date?)
        case waiting(until: Date)
        case never
    }

    /// When `text` is next due after `last` (or the object's creation); the schedule's error
    /// when it cannot be read.
    static func timing(_ text: String, last: Date?, created: String?) -> Result<Timing, any Error> {
        let schedule: CronSchedule
        do {
            schedule = try CronSchedule(text)
        } catch {
            return .failure(error)
        }
        let now = Date()
        let last = last ?? created.flatMap(KubeTime.parse) ?? now
        guard var due = schedule.next(after: last) else { return .success(.never) }
        guard due <= now else { return .success(.waiting(until: due)) }
        var skipped = 0
        while let following = schedule.next(after: due), following <= now, skipped < 100_000 {
            due = following
            skipped += 1
        }
        return .success(.due(due, skipped: skipped, then: schedule.next(after: due)))
    }

    static func wait(until date: Date?) -> Duration? {
        date.map { .seconds(max(0, $0.timeIntervalSinceNow)) }
    }

    /// Prunes the Target's repository if a prune is due; returns how long until the next is.
    func prune(_ target: Target) async throws -> Duration? {
        guard let text = target.spec.pruneSchedule else { return nil }
        switch Self.timing(text, last: target.status.lastPruneTime, created: target.object.creationTimestamp) {
        case .failure(let error):
            if target.status.pruneError != "\(error)" { try await status.update(target) { $0.pruneError = "\(error)" } }
            return nil
        case .success(.never): return nil
        case .success(.waiting(let until)): return Self.wait(until: until)
        case .success(.due(let due, _, let then)):
            var summary: TargetStatus.PruneSummary?
            var failure: String?
            do {
                let (store, password) = try await connector.store(target)
                let report = try await Pruner(store: store, credential: .password(password), maxUnused: target.spec.pruneMaxUnused).run()
                log("\(target.label): pruned: \(report.packsDeleted) packs deleted, \(report.bytesReclaimed) bytes reclaimed")
                summary = .init(
                    packsDeleted: report.packsDeleted, packsRewritten: report.packsRewritten, bytesReclaimed: report.bytesReclaimed,
                    marksWaiting: report.marksWaiting)
            } catch {
                log("\(target.label): prune failed: \(error)")
                failure = "\(error)"
            }
            try await status.update(target) { status in
                status.lastPruneTime = due
                if let summary { status.lastPrune = summary }
                status.pruneError = failure
            }
            return Self.wait(until: then)
        }
    }

    /// Creates the plan's Backup if one is due; returns how long until the next is.
    func handle<P: FerryObject>(_ plan: P, cluster: Bool) async throws -> Duration?
    where P.Spec == BackupPlanSpec, P.Status == BackupPlanStatus {
        guard let text = plan.spec.schedule, !text.isEmpty else { return nil }
        switch Self.timing(text, last: plan.status.lastScheduleTime, created: plan.object.creationTimestamp) {
        case .failure(let error):
            if plan.status.scheduleError != "\(error)" { try await status.update(plan) { $0.scheduleError = "\(error)" } }
            return nil
        case .success(.never): return nil
        case .success(.waiting(let until)): return Self.wait(until: until)
        case .success(.due(let due, let skipped, let then)):
            let name = "\(plan.name)-\(Self.stamp(due))"
            let backup = Backup(
                namespace: cluster ? adminNamespace : plan.namespace, name: name,
                spec: cluster ? BackupSpec(clusterPlan: plan.name) : BackupSpec(plan: plan.name),
                labels: [cluster ? FerryLabels.clusterPlan : FerryLabels.plan: plan.name, FerryLabels.scheduled: "true"])
            do {
                try await ferry.create(backup)
                log("\(plan.label): scheduled Backup \(name) (\(text))\(skipped > 0 ? ", \(skipped) missed time(s) skipped" : "")")
            } catch .kube(.alreadyExists) {
                // A previous leader created it.
            }
            try await status.update(plan) { status in
                status.lastScheduleTime = due
                status.nextScheduleTime = then
                status.scheduleError = nil
            }
            return Self.wait(until: then)
        }
    }

    /// `yyyyMMddHHmmss` in UTC.
    static func stamp(_ date: Date) -> String {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        let c = calendar.dateComponents([.year, .month, .day, .hour, .minute, .second], from: date)
        return String(format: "%04d%02d%02d%02d%02d%02d", c.year!, c.month!, c.day!, c.hour!, c.minute!, c.second!)
    }
}
