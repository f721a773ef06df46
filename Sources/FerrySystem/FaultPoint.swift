import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// Named points in the commit protocol and the data path where a test can stop the process or
/// make it hang, to strike at an exact phase instead of after a guessed delay. When
/// `FERRY_TEST_STOP_AT` lists a point's name (comma-separated), reaching it the first time stops
/// the process with SIGSTOP; the test observes the stopped state and sends SIGKILL (or SIGCONT,
/// and the process goes on past that point from then on). When
/// `FERRY_TEST_HANG_AT` lists it, the thread that reaches it blocks for good (a read from a
/// device that never answers) while the rest of the process goes on. Unset, a point costs one
/// comparison.
public enum FaultPoint: String, Sendable, CaseIterable {
    /// A data pack has been stored.
    case packStored = "pack-stored"
    /// An index object has been stored.
    case indexStored = "index-stored"
    /// Everything but the snapshot manifest has been stored.
    case beforeManifest = "before-manifest"
    /// Prune: the tombstone index object is stored, the mark not yet.
    case pruneMarked = "prune-marked"
    /// Prune: revived chunks have been re-indexed.
    case pruneRevived = "prune-revived"
    /// Prune: rewritten packs and their index are stored; old packs not yet deleted.
    case pruneRepacked = "prune-repacked"
    /// Prune: packs deleted; the mark not yet removed.
    case pruneDeleted = "prune-deleted"
    /// Prune: compacted index objects written; old ones not yet deleted.
    case pruneCompacted = "prune-compacted"
    /// A backup is about to read a block of its source (on an I/O thread).
    case blockRead = "block-read"

    private static func names(_ variable: String) -> Set<String> {
        guard let value = getenv(variable) else { return [] }
        return Set(String(cString: value).split(separator: ",").map(String.init))
    }

    private static let stopping = names("FERRY_TEST_STOP_AT")
    private static let hanging = names("FERRY_TEST_HANG_AT")
    private static let stopped = Mutex<Set<String>>([])

    public func reach() {
        if Self.stopping.contains(rawValue), Self.stopped.withLock({ $0.insert(rawValue).inserted }) {
            raise(SIGSTOP)
        }
        if Self.hanging.contains(rawValue) {
            while true { pause() }
        }
    }
}
