import Foundation
import Testing

@testable import FerryCoordinator

@Suite struct CronScheduleTests {
    static func utc(_ text: String) -> Date { try! Date.ISO8601FormatStyle().parse(text) }

    @Test(arguments: [
        ("30 2 * * 1-5", "2026-11-20T03:00:00Z", "2026-11-23T02:30:00Z"), // Friday after 02:30 → Monday
        ("0 0 1 * *", "2026-11-22T10:00:00Z", "2026-12-01T00:00:00Z"),
        ("*/15 * * * *", "2026-11-22T10:07:12Z", "2026-11-22T10:15:00Z"),
        ("*/15 * * * *", "2026-11-22T10:15:00Z", "2026-11-22T10:30:00Z"), // strictly after
        ("0 0 29 2 *", "2026-03-01T00:00:00Z", "2028-02-29T00:00:00Z"),
        ("0 12 1 * mon", "2026-11-22T00:00:00Z", "2026-11-23T12:00:00Z"), // day-of-month OR day-of-week
        ("0 9 * jan-mar sat", "2026-11-22T00:00:00Z", "2027-01-02T09:00:00Z"),
        ("0 0 * * 7", "2026-11-22T00:00:00Z", "2026-11-29T00:00:00Z"), // 7 is Sunday too
        ("5,10 1-2/1 * * *", "2026-11-22T01:07:00Z", "2026-11-22T01:10:00Z"),
        ("@daily", "2026-12-31T23:59:00Z", "2027-01-01T00:00:00Z"),
        ("@weekly", "2026-11-22T00:00:00Z", "2026-11-29T00:00:00Z"),
        ("@every 1h30m", "2026-11-22T10:00:00Z", "2026-11-22T11:30:00Z"),
    ])
    func nextTimes(_ expression: String, _ after: String, _ expected: String) throws {
        #expect(try CronSchedule(expression).next(after: Self.utc(after)) == Self.utc(expected))
    }

    @Test func impossibleDatesNeverFire() throws {
        #expect(try CronSchedule("0 0 30 2 *").next(after: Self.utc("2026-01-01T00:00:00Z")) == nil)
    }

    @Test(arguments: ["61 * * * *", "* * *", "@every", "@every 5x", "1-0 * * * *", "* * * foo *", "*/0 * * * *", "0 0 0 * *"])
    func malformedSchedulesAreRefusedWithTheirField(_ expression: String) {
        #expect(throws: CronSchedule.ParseError.self) { try CronSchedule(expression) }
    }
}
