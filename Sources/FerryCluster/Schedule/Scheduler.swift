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

    func run() async throws {
        let plans = try await FerryKind.backupPlan.resource(client)
        let targets = try await FerryKind.target.resource(client)
        let backups = try await FerryKind.backup.resource(client)
        // Charts older than ClusterBackupPlan do not serve it.
        let clusterPlans = adminNamespace == nil ? nil : try? await FerryKind.clusterBackupPlan.resource(client)
        while true {
            var sleep = poll
            do {
                var all = try await client.listAll(plans, namespace: namespace)
                if let clusterPlans { all += try await client.listAll(clusterPlans, namespace: nil) }
                for plan in all {
                    if let wait = try await handle(plan, backups: backups) { sleep = min(sleep, wait) }
                }
                for target in try await client.listAll(targets, namespace: namespace) {
                    if let wait = try await prune(target) { sleep = min(sleep, wait) }
                }
            } catch {
                log("scheduler: \(error)")
            }
            try await Task.sleep(for: max(sleep, .milliseconds(100)))
        }
    }

    /// The schedule's state for an object: nil when it has none; an error when it is malformed
    /// (reported in the object's status under `errorField`).
    enum Timing {
        /// Due now at this time (the latest of those passed), `skipped` earlier ones missed.
        case due(Date, skipped: Int, then: Date?)
        case waiting(until: Date)
        case never
    }

    func timing(_ text: String, object: KubeObject, kind: FerryKind, lastField: String, errorField: String) async throws -> Timing? {
        let schedule: CronSchedule
        do {
            schedule = try CronSchedule(text)
        } catch {
            if object["status"]?[errorField]?.stringValue != "\(error)" {
                try await status.patch(kind, object, [errorField: .string("\(error)")])
            }
            return nil
        }
        let now = Date()
        let last = Self.time(object["status"]?[lastField]) ?? object.creationTimestamp.flatMap { Self.time(.string($0)) } ?? now
        guard var due = schedule.next(after: last) else { return .never }
        guard due <= now else { return .waiting(until: due) }
        var skipped = 0
        while let following = schedule.next(after: due), following <= now, skipped < 100_000 {
            due = following
            skipped += 1
        }
        return .due(due, skipped: skipped, then: schedule.next(after: due))
    }

    static func wait(until date: Date?) -> Duration? {
        date.map { .seconds(max(0, $0.timeIntervalSinceNow)) }
    }

    /// Prunes the Target's repository if a prune is due; returns how long until the next is.
    func prune(_ object: KubeObject) async throws -> Duration? {
        guard let text = object["spec"]?["prune"]?["schedule"]?.stringValue, !text.isEmpty,
              let timing = try await timing(text, object: object, kind: .target, lastField: "lastPruneTime", errorField: "pruneError")
        else { return nil }
        switch timing {
        case .never: return nil
        case .waiting(let until): return Self.wait(until: until)
        case .due(let due, _, let then):
            var fields: JSONValue = ["lastPruneTime": .string(due.formatted(Date.ISO8601FormatStyle()))]
            do {
                let target = try TargetSpec(object)
                let (store, password) = try await connector.store(target)
                let report = try await Pruner(store: store, credential: .password(password), maxUnused: target.pruneMaxUnused).run()
                log("\(object.label): pruned: \(report.packsDeleted) packs deleted, \(report.bytesReclaimed) bytes reclaimed")
                fields["lastPrune"] = [
                    "packsDeleted": .int(Int64(report.packsDeleted)), "packsRewritten": .int(Int64(report.packsRewritten)),
                    "bytesReclaimed": .int(report.bytesReclaimed), "marksWaiting": .int(Int64(report.marksWaiting)),
                ]
                fields["pruneError"] = .null
            } catch {
                log("\(object.label): prune failed: \(error)")
                fields["pruneError"] = .string("\(error)")
            }
            try await status.patch(.target, object, fields)
            return Self.wait(until: then)
        }
    }

    /// Creates the plan's Backup if one is due; returns how long until the next is.
    func handle(_ plan: KubeObject, backups: APIResource) async throws -> Duration? {
        let cluster = plan.kind == FerryKind.clusterBackupPlan.rawValue
        let kind: FerryKind = cluster ? .clusterBackupPlan : .backupPlan
        guard let text = plan["spec"]?["schedule"]?.stringValue, !text.isEmpty,
              let timing = try await timing(text, object: plan, kind: kind, lastField: "lastScheduleTime", errorField: "scheduleError")
        else { return nil }
        switch timing {
        case .never: return nil
        case .waiting(let until): return Self.wait(until: until)
        case .due(let due, let skipped, let then):
            let name = "\(plan.name)-\(Self.stamp(due))"
            var backup = KubeObject(apiVersion: FerryKind.apiVersion, kind: FerryKind.backup.rawValue, namespace: cluster ? adminNamespace : plan.namespace, name: name)
            backup.json["spec"] = [cluster ? "clusterPlan" : "plan": .string(plan.name)]
            backup.json.setValue([cluster ? "ferry.dev/cluster-plan" : "ferry.dev/plan": .string(plan.name), "ferry.dev/scheduled": "true"],
                                 at: ["metadata", "labels"])
            if try await createIfAbsent(backup, in: backups) {
                log("\(plan.label): scheduled Backup \(name) (\(text))\(skipped > 0 ? ", \(skipped) missed time(s) skipped" : "")")
            }
            try await status.patch(kind, plan, ["lastScheduleTime": .string(due.formatted(Date.ISO8601FormatStyle())), "scheduleError": .null])
            return Self.wait(until: then)
        }
    }

    /// Creates the object; false when it exists already (a previous leader created it).
    func createIfAbsent(_ object: KubeObject, in resource: APIResource) async throws(KubeError) -> Bool {
        do {
            _ = try await client.create(resource, object)
            return true
        } catch {
            if case .alreadyExists = error { return false }
            throw error
        }
    }

    static func time(_ value: JSONValue?) -> Date? {
        guard let text = value?.stringValue else { return nil }
        return (try? Date.ISO8601FormatStyle().parse(text)) ?? (try? Date.ISO8601FormatStyle(includingFractionalSeconds: true).parse(text))
    }

    /// `yyyyMMddHHmmss` in UTC.
    static func stamp(_ date: Date) -> String {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        let c = calendar.dateComponents([.year, .month, .day, .hour, .minute, .second], from: date)
        return String(format: "%04d%02d%02d%02d%02d%02d", c.year!, c.month!, c.day!, c.hour!, c.minute!, c.second!)
    }
}
