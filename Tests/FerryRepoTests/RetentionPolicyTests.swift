import FerryTestSupport
import Foundation
import Testing

@testable import FerryRepo

@Suite("Retention policy")
struct RetentionPolicyTests {
    var calendar: Calendar = {
        var c = Calendar(identifier: .gregorian)
        c.timeZone = TimeZone(identifier: "UTC")!
        c.firstWeekday = 2
        return c
    }()

    /// A snapshot taken at "yyyy-MM-dd HH:mm" UTC, with an id derived from the time.
    func snapshot(_ text: String) -> Snapshot {
        let formatter = DateFormatter()
        formatter.dateFormat = "yyyy-MM-dd HH:mm"
        formatter.timeZone = TimeZone(identifier: "UTC")
        let time = formatter.date(from: text)!
        let manifest = SnapshotManifest(time: time, name: "vm", hostname: "h", parent: nil, session: "s", volumes: [])
        return Snapshot(id: Digest.sha256(Array(text.utf8)), manifest: manifest)
    }

    /// A fixed calendar: every 6 hours for 10 days in January, then one per day in February,
    /// then monthly snapshots through the previous year.
    var history: [Snapshot] {
        var texts: [String] = []
        for day in 1...10 { for hour in [0, 6, 12, 18] { texts.append(String(format: "2026-01-%02d %02d:00", day, hour)) } }
        for day in 1...20 { texts.append(String(format: "2026-02-%02d 03:30", day)) }
        for month in 1...12 { texts.append(String(format: "2025-%02d-15 12:00", month)) }
        return texts.map(snapshot)
    }

    func kept(_ policy: RetentionPolicy) -> [String] {
        let formatter = DateFormatter()
        formatter.dateFormat = "yyyy-MM-dd HH:mm"
        formatter.timeZone = TimeZone(identifier: "UTC")
        return policy.apply(to: history, calendar: calendar).filter(\.keep).map { formatter.string(from: $0.snapshot.manifest.time) }
    }

    @Test func keepLast() {
        #expect(kept(RetentionPolicy(last: 3)) == ["2026-02-20 03:30", "2026-02-19 03:30", "2026-02-18 03:30"])
    }

    @Test func keepDailyTakesTheNewestOfEachDay() {
        // 20 days of February, then January 10 and 9: the newest (18:00) of each.
        let result = kept(RetentionPolicy(daily: 22))
        #expect(result.count == 22)
        #expect(result.suffix(2) == ["2026-01-10 18:00", "2026-01-09 18:00"])
    }

    @Test func keepHourlyAndWithin() {
        #expect(kept(RetentionPolicy(hourly: 2)) == ["2026-02-20 03:30", "2026-02-19 03:30"])
        // Within 2 days of the newest: Feb 18 03:30 is exactly 2 days older, and is kept.
        #expect(kept(RetentionPolicy(within: RetentionDuration("2d"))) == ["2026-02-20 03:30", "2026-02-19 03:30", "2026-02-18 03:30"])
    }

    @Test func keepWeeklyUsesISOWeeks() {
        // Week of Mon 16 Feb (newest: 20 Feb), 9 Feb (15 Feb), 2 Feb (8 Feb), 26 Jan (1 Feb).
        #expect(kept(RetentionPolicy(weekly: 4)) == ["2026-02-20 03:30", "2026-02-15 03:30", "2026-02-08 03:30", "2026-02-01 03:30"])
    }

    @Test func keepMonthlyAndYearly() {
        #expect(kept(RetentionPolicy(monthly: 4)) == ["2026-02-20 03:30", "2026-01-10 18:00", "2025-12-15 12:00", "2025-11-15 12:00"])
        #expect(kept(RetentionPolicy(yearly: 5)) == ["2026-02-20 03:30", "2025-12-15 12:00"])
    }

    @Test func rulesCombineAndNameTheirReasons() {
        let decisions = RetentionPolicy(last: 1, daily: 2, monthly: 2).apply(to: history, calendar: calendar)
        let first = decisions[0]
        #expect(first.keep)
        #expect(first.reasons == ["last", "daily", "monthly"])
        #expect(decisions[1].reasons == ["daily"])
        #expect(decisions.filter(\.keep).count == 3) // Feb 20, Feb 19, Jan 10 18:00
        #expect(decisions.filter { !$0.keep }.allSatisfy { $0.reasons.isEmpty })
    }

    @Test func durationsParse() {
        #expect(RetentionDuration("1y6m") != nil)
        #expect(RetentionDuration("2w3d12h")?.days == 3)
        #expect(RetentionDuration("") == nil)
        #expect(RetentionDuration("5") == nil)
        #expect(RetentionDuration("3x") == nil)
        #expect(RetentionPolicy().isEmpty)
    }
}
