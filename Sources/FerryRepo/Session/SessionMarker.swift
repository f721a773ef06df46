import Foundation

/// The `sessions/<id>` object a writer keeps while it is alive: a lease that prune honours
/// (design §3). Refreshed by replacing it; removed when the session ends.
public struct SessionMarker: Codable, Sendable {
    public var id: String
    public var hostname: String
    public var pid: Int32
    public var started: Date
    public var refreshed: Date
    /// Past this time, without a refresh, the writer is presumed dead.
    public var expires: Date

    /// A writer commits only while its marker has at least this long (seconds) to live; prune
    /// treats a marker as dead only this long after it expired.
    public static let commitMargin: TimeInterval = 60

    /// The margin for this marker: `commitMargin`, or a quarter of its lease if that is shorter.
    public var margin: TimeInterval {
        min(Self.commitMargin, max(0, expires.timeIntervalSince(refreshed)) / 4)
    }

    /// The margin of a marker written with `lease`.
    public static func margin(lease: Duration) -> TimeInterval {
        min(commitMargin, Double(lease.components.seconds) / 4)
    }
}
