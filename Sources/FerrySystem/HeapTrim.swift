#if canImport(Glibc)
    import Glibc
#endif

/// Gives back to the system the memory the C heap holds free.
public enum HeapTrim {
    /// glibc keeps freed memory in its arenas for reuse; after a burst of short-lived
    /// allocations (discovering a whole cluster parses every object once) the process would
    /// otherwise keep that peak for as long as it runs. `malloc_trim(0)` returns the free pages
    /// of every arena. Looked up at run time: Swift's Glibc module does not declare it.
    public static func returnFreeMemory() {
        #if canImport(Glibc)
            typealias Trim = @convention(c) (Int) -> Int32
            // RTLD_DEFAULT: the symbol as the process's own libraries define it.
            guard let symbol = dlsym(nil, "malloc_trim") else { return }
            _ = unsafeBitCast(symbol, to: Trim.self)(0)
        #endif
    }
}
