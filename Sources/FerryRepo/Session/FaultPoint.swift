#if canImport(Glibc)
import Glibc
#endif

/// Named points in the commit protocol where a test can stop the process, to kill it at an
/// exact phase instead of after a guessed delay. When `FERRY_TEST_STOP_AT` lists a point's name
/// (comma-separated), reaching it stops the process with SIGSTOP; the test observes the stopped
/// state and sends SIGKILL (or SIGCONT). Unset, a point costs one comparison.
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

    private static let armed: Set<String> = {
        guard let value = getenv("FERRY_TEST_STOP_AT") else { return [] }
        return Set(String(cString: value).split(separator: ",").map(String.init))
    }()

    public func reach() {
        if Self.armed.contains(rawValue) {
            raise(SIGSTOP)
        }
    }
}
