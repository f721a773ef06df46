/// Read-ahead along a volume's block map for a sequential reader, like the kernel's: a read that
/// starts where the reader left off (within `slack`) grows the window (doubling from `minimum`
/// up to `maximum`); any other read resets it. The next window is scheduled once less than half
/// of the current one is left ahead of the reader.
struct ReadAhead: Sendable {
    let minimum: Int64
    let maximum: Int64
    /// How far before or after the previous end a read may start and still count as sequential
    /// (the kernel issues read-ahead requests several at a time, not strictly in order).
    let slack: Int64

    private(set) var end: Int64 = 0
    private(set) var window: Int64 = 0
    /// Everything before this offset was already scheduled.
    private(set) var scheduledUpTo: Int64 = 0

    init(minimum: Int64, maximum: Int64, slack: Int64) {
        self.minimum = min(minimum, maximum)
        self.maximum = maximum
        self.slack = slack
    }

    /// Records a read of `range`; returns the range to fetch ahead now, if any.
    mutating func access(_ range: Range<Int64>, size: Int64) -> Range<Int64>? {
        guard maximum > 0 else { return nil }
        let sequential = range.lowerBound >= end - slack - window && range.lowerBound <= end + slack
        if sequential {
            window = window == 0 ? minimum : min(maximum, window * 2)
            end = max(end, range.upperBound)
        } else {
            window = 0
            end = range.upperBound
            scheduledUpTo = range.upperBound
            return nil
        }
        let target = min(size, end + window)
        let from = max(scheduledUpTo, end)
        guard from < target, scheduledUpTo - end < window / 2 else { return nil }
        scheduledUpTo = target
        return from..<target
    }
}
