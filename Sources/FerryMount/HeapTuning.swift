import CFuse

/// Process-wide memory settings for a long-running mount.
public enum HeapTuning {
    /// Chunk buffers (a block each, 1 MiB by default) come and go all the time; with glibc's
    /// default, freed ones stay in per-thread heaps and the process keeps far more than its
    /// cache. Served by mmap instead, each goes back to the system when evicted.
    public static func returnLargeBuffersToTheSystem() {
        _ = ferry_mmap_threshold(256 << 10)
    }
}
