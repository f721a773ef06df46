import FerryKube
import Foundation

/// Creates Backups for BackupPlans that have a `schedule`. Each due time gets one Backup named
/// after the plan and that time (`web-20261122093000`), so a new leader repeating the work gets
/// AlreadyExists rather than a second backup. After downtime only the latest missed time is
/// backed up, not every one. `status.lastScheduleTime` records the last time handled.
struct Scheduler: Sendable {
    let client: KubeClient
    let namespace: String?
    let status: StatusWriter
    let log: @Sendable (String) -> Void
    /// The longest sleep between looks at the plans (plans added or changed are seen then).
    var poll: Duration = .seconds(10)

    func run() async throws {
        let plans = try await FerryKind.backupPlan.resource(client)
        let backups = try await FerryKind.backup.resource(client)
        while true {
            var sleep = poll
            do {
                for plan in try await client.listAll(plans, namespace: namespace) {
                    if let wait = try await handle(plan, backups: backups) { sleep = min(sleep, wait) }
                }
            } catch {
                log("scheduler: \(error)")
            }
            try await Task.sleep(for: max(sleep, .milliseconds(100)))
        }
    }

    /// Creates the plan's Backup if one is due; returns how long until the next is.
    func handle(_ plan: KubeObject, backups: APIResource) async throws -> Duration? {
        guard let text = plan["spec"]?["schedule"]?.stringValue, !text.isEmpty else { return nil }
        let schedule: CronSchedule
        do {
            schedule = try CronSchedule(text)
        } catch {
            if plan["status"]?["scheduleError"]?.stringValue != "\(error)" {
                try await status.patch(.backupPlan, plan, ["scheduleError": .string("\(error)")])
            }
            return nil
        }
        let now = Date()
        let last = Self.time(plan["status"]?["lastScheduleTime"]) ?? plan.creationTimestamp.flatMap { Self.time(.string($0)) } ?? now
        guard var due = schedule.next(after: last) else { return nil }
        if due <= now {
            var skipped = 0
            while let following = schedule.next(after: due), following <= now, skipped < 100_000 {
                due = following
                skipped += 1
            }
            let name = "\(plan.name)-\(Self.stamp(due))"
            var backup = KubeObject(apiVersion: FerryKind.apiVersion, kind: FerryKind.backup.rawValue, namespace: plan.namespace, name: name)
            backup.json["spec"] = ["plan": .string(plan.name)]
            backup.json.setValue(["ferry.dev/plan": .string(plan.name), "ferry.dev/scheduled": "true"], at: ["metadata", "labels"])
            if try await createIfAbsent(backup, in: backups) {
                log("\(plan.label): scheduled Backup \(name) (\(text))\(skipped > 0 ? ", \(skipped) missed time(s) skipped" : "")")
            }
            try await status.patch(.backupPlan, plan, ["lastScheduleTime": .string(due.formatted(Date.ISO8601FormatStyle())), "scheduleError": .null])
            guard let next = schedule.next(after: due) else { return nil }
            return .seconds(max(0, next.timeIntervalSince(now)))
        }
        return .seconds(max(0, due.timeIntervalSince(now)))
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
