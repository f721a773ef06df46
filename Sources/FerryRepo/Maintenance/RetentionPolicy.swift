import Foundation

/// Which snapshots `ferry forget` keeps: the newest N, the newest of each of the last N hours,
/// days, weeks, months and years that have snapshots, and everything within a duration of the
/// newest snapshot. A snapshot is kept when any rule keeps it (restic's semantics).
public struct RetentionPolicy: Sendable, Equatable {
    public var last = 0
    public var hourly = 0
    public var daily = 0
    public var weekly = 0
    public var monthly = 0
    public var yearly = 0
    /// Keep every snapshot taken within this span of the newest one.
    public var within: RetentionDuration?

    public init(
        last: Int = 0, hourly: Int = 0, daily: Int = 0, weekly: Int = 0, monthly: Int = 0, yearly: Int = 0, within: RetentionDuration? = nil
    ) {
        self.last = last
        self.hourly = hourly
        self.daily = daily
        self.weekly = weekly
        self.monthly = monthly
        self.yearly = yearly
        self.within = within
    }

    /// True when no rule is set: such a policy would remove everything, so it is refused.
    public var isEmpty: Bool {
        last == 0 && hourly == 0 && daily == 0 && weekly == 0 && monthly == 0 && yearly == 0 && within == nil
    }

    /// The decision for each snapshot of one group, newest first.
    public func apply(to snapshots: [Snapshot], calendar: Calendar) -> [RetentionDecision] {
        let sorted = snapshots.sorted { ($0.manifest.time, $0.id) > ($1.manifest.time, $1.id) }
        guard let newest = sorted.first?.manifest.time else { return [] }
        let cutoff = within.map { $0.subtracted(from: newest, calendar: calendar) }
        typealias Bucket = (name: String, count: Int, key: (Date) -> [Int])
        let buckets: [Bucket] = [
            ("hourly", hourly, { calendar.dateComponents([.year, .month, .day, .hour], from: $0).values([.year, .month, .day, .hour]) }),
            ("daily", daily, { calendar.dateComponents([.year, .month, .day], from: $0).values([.year, .month, .day]) }),
            (
                "weekly", weekly,
                { calendar.dateComponents([.yearForWeekOfYear, .weekOfYear], from: $0).values([.yearForWeekOfYear, .weekOfYear]) }
            ),
            ("monthly", monthly, { calendar.dateComponents([.year, .month], from: $0).values([.year, .month]) }),
            ("yearly", yearly, { calendar.dateComponents([.year], from: $0).values([.year]) }),
        ]
        var remaining = buckets.map(\.count)
        var lastKey: [[Int]?] = Array(repeating: nil, count: buckets.count)
        var decisions: [RetentionDecision] = []
        for (position, snapshot) in sorted.enumerated() {
            var reasons: [String] = []
            if position < last { reasons.append("last") }
            for (i, bucket) in buckets.enumerated() where remaining[i] > 0 {
                let key = bucket.key(snapshot.manifest.time)
                if key != lastKey[i] {
                    lastKey[i] = key
                    remaining[i] -= 1
                    reasons.append(bucket.name)
                }
            }
            if let cutoff, snapshot.manifest.time >= cutoff { reasons.append("within \(within!.text)") }
            decisions.append(RetentionDecision(snapshot: snapshot, keep: !reasons.isEmpty, reasons: reasons))
        }
        return decisions
    }
}

/// What the policy decided for one snapshot and why.
public struct RetentionDecision: Sendable {
    public var snapshot: Snapshot
    public var keep: Bool
    /// The rules that keep it (empty when it is removed).
    public var reasons: [String]
}

/// A calendar span such as `1y6m`, `30d`, `2w`, `12h` (y years, m months, w weeks, d days,
/// h hours; restic's `--keep-within` syntax plus weeks).
public struct RetentionDuration: Sendable, Equatable {
    public var years = 0, months = 0, weeks = 0, days = 0, hours = 0
    public let text: String

    public init?(_ text: String) {
        self.text = text
        var number = ""
        var any = false
        for c in text {
            if c.isNumber { number.append(c); continue }
            guard let n = Int(number) else { return nil }
            switch c {
            case "y": years += n
            case "m": months += n
            case "w": weeks += n
            case "d": days += n
            case "h": hours += n
            default: return nil
            }
            number = ""
            any = true
        }
        guard number.isEmpty, any else { return nil }
    }

    public func subtracted(from date: Date, calendar: Calendar) -> Date {
        let components = DateComponents(year: -years, month: -months, day: -(days + 7 * weeks), hour: -hours)
        return calendar.date(byAdding: components, to: date) ?? date
    }
}

extension DateComponents {
    fileprivate func values(_ components: [Calendar.Component]) -> [Int] {
        components.map { value(for: $0) ?? 0 }
    }
}
