/// Stands for a change tracker that was asked for but cannot be reached or trusted: every block
/// is compared with the parent, and the reason is recorded in the manifest.
public struct UnusableTracker: ChangeTracker {
    public let provider: String
    public let reason: String

    public init(provider: String, reason: String) {
        self.provider = provider
        self.reason = reason
    }

    public func changes(since bookmark: CBTBookmark, size: Int64) async throws -> CBTChanges { .unusable(reason: reason) }
    public func allocatedRanges(size: Int64) async throws -> [Range<Int64>]? { nil }
    public func currentBookmark() async throws -> CBTBookmark? { nil }
}
