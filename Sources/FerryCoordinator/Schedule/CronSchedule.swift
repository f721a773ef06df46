import Foundation

/// When a BackupPlan's backups are due: a five-field cron expression (minute hour day-of-month
/// month day-of-week, in UTC; `*`, lists, ranges, steps, month and day names), one of the
/// macros `@hourly`, `@daily`/`@midnight`, `@weekly`, `@monthly`, `@yearly`/`@annually`, or
/// `@every DURATION` (`90s`, `15m`, `6h`, `1h30m`) counted from the previous backup.
public struct CronSchedule: Sendable, Equatable {
    enum Kind: Sendable, Equatable {
        case calendar(
            minutes: Set<Int>, hours: Set<Int>, days: Set<Int>, months: Set<Int>, weekdays: Set<Int>, anyDay: Bool, anyWeekday: Bool)
        case every(TimeInterval)
    }

    let kind: Kind
    public let text: String

    public struct ParseError: Error, CustomStringConvertible {
        public var description: String
    }

    public init(_ text: String) throws {
        self.text = text
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        switch trimmed {
        case "@hourly": kind = try Self.calendar("0 * * * *")
        case "@daily", "@midnight": kind = try Self.calendar("0 0 * * *")
        case "@weekly": kind = try Self.calendar("0 0 * * 0")
        case "@monthly": kind = try Self.calendar("0 0 1 * *")
        case "@yearly", "@annually": kind = try Self.calendar("0 0 1 1 *")
        default:
            if trimmed.hasPrefix("@every ") {
                let duration = String(trimmed.dropFirst("@every ".count)).trimmingCharacters(in: .whitespaces)
                guard let seconds = Self.duration(duration), seconds >= 1 else {
                    throw ParseError(description: "schedule \"\(text)\": @every takes a duration like 90s, 15m, 6h or 1h30m")
                }
                kind = .every(seconds)
            } else {
                kind = try Self.calendar(trimmed)
            }
        }
    }

    /// The first time after `date` the schedule fires.
    public func next(after date: Date) -> Date? {
        switch kind {
        case .every(let interval):
            return date.addingTimeInterval(interval)
        case .calendar(let minutes, let hours, let days, let months, let weekdays, let anyDay, let anyWeekday):
            var calendar = Calendar(identifier: .gregorian)
            calendar.timeZone = TimeZone(identifier: "UTC")!
            var c = calendar.dateComponents([.year, .month, .day, .hour, .minute], from: date.addingTimeInterval(60))
            c.second = 0
            guard var t = calendar.date(from: c) else { return nil }
            let limit = date.addingTimeInterval(5 * 366 * 86_400)
            while t < limit {
                let f = calendar.dateComponents([.year, .month, .day, .hour, .minute, .weekday], from: t)
                if !months.contains(f.month!) {
                    t = calendar.date(from: DateComponents(year: f.year!, month: f.month! + 1, day: 1))!
                    continue
                }
                let dayMatches = days.contains(f.day!)
                let weekdayMatches = weekdays.contains(f.weekday! - 1)
                let dayOK: Bool
                switch (anyDay, anyWeekday) {
                case (true, true): dayOK = true
                case (true, false): dayOK = weekdayMatches
                case (false, true): dayOK = dayMatches
                case (false, false): dayOK = dayMatches || weekdayMatches // cron: either restricted field matches
                }
                if !dayOK {
                    t = calendar.date(from: DateComponents(year: f.year!, month: f.month!, day: f.day! + 1))!
                    continue
                }
                if !hours.contains(f.hour!) {
                    t = calendar.date(from: DateComponents(year: f.year!, month: f.month!, day: f.day!, hour: f.hour! + 1))!
                    continue
                }
                if !minutes.contains(f.minute!) {
                    t = t.addingTimeInterval(60)
                    continue
                }
                return t
            }
            return nil // e.g. 30 February
        }
    }

    // MARK: - Parsing

    static let monthNames = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"]
    static let dayNames = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"]

    static func calendar(_ text: String) throws -> Kind {
        let fields = text.split(separator: " ", omittingEmptySubsequences: true).map(String.init)
        guard fields.count == 5 else {
            throw ParseError(
                description: "schedule \"\(text)\": expected 5 fields (minute hour day-of-month month day-of-week) or a macro like @daily")
        }
        let minutes = try field(fields[0], 0...59, names: [], what: "minute", text: text)
        let hours = try field(fields[1], 0...23, names: [], what: "hour", text: text)
        let days = try field(fields[2], 1...31, names: [], what: "day of month", text: text)
        let months = try field(fields[3], 1...12, names: monthNames, what: "month", text: text, nameBase: 1)
        var weekdays = try field(fields[4], 0...7, names: dayNames, what: "day of week", text: text)
        if weekdays.remove(7) != nil { weekdays.insert(0) }
        return .calendar(
            minutes: minutes, hours: hours, days: days, months: months, weekdays: weekdays,
            anyDay: fields[2] == "*" || fields[2] == "?", anyWeekday: fields[4] == "*" || fields[4] == "?")
    }

    static func field(_ text: String, _ range: ClosedRange<Int>, names: [String], what: String, text whole: String, nameBase: Int = 0)
        throws -> Set<Int>
    {
        func fail() -> ParseError {
            ParseError(
                description: "schedule \"\(whole)\": invalid \(what) field \"\(text)\" (allowed \(range.lowerBound)-\(range.upperBound))")
        }
        func value(_ token: Substring) throws -> Int {
            if let number = Int(token), range.contains(number) { return number }
            if let index = names.firstIndex(of: token.lowercased()) { return index + nameBase }
            throw fail()
        }
        var result: Set<Int> = []
        for part in text.split(separator: ",", omittingEmptySubsequences: false) {
            let pieces = part.split(separator: "/", omittingEmptySubsequences: false)
            guard pieces.count <= 2, !pieces[0].isEmpty else { throw fail() }
            var step = 1
            if pieces.count == 2 {
                guard let parsed = Int(pieces[1]), parsed >= 1 else { throw fail() }
                step = parsed
            }
            let bounds: ClosedRange<Int>
            if pieces[0] == "*" || pieces[0] == "?" {
                bounds = range
            } else if let dash = pieces[0].firstIndex(of: "-") {
                let low = try value(pieces[0][..<dash]), high = try value(pieces[0][pieces[0].index(after: dash)...])
                guard low <= high else { throw fail() }
                bounds = low...high
            } else {
                let single = try value(pieces[0])
                bounds = single...(pieces.count == 2 ? range.upperBound : single)
            }
            result.formUnion(stride(from: bounds.lowerBound, through: bounds.upperBound, by: step))
        }
        return result
    }

    /// `90s`, `15m`, `6h`, `1h30m`, `2d` in seconds.
    static func duration(_ text: String) -> TimeInterval? {
        var total: TimeInterval = 0
        var number = ""
        for character in text {
            if character.isNumber {
                number.append(character)
                continue
            }
            guard let value = Double(number) else { return nil }
            switch character {
            case "s": total += value
            case "m": total += value * 60
            case "h": total += value * 3600
            case "d": total += value * 86_400
            default: return nil
            }
            number = ""
        }
        return number.isEmpty && total > 0 ? total : nil
    }
}
