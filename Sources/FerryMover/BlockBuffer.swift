/// A reusable, aligned buffer for one block, owned by one worker and lent to the I/O executor
/// for the duration of a read (hence `@unchecked Sendable`: never used from two places at once).
final class BlockBuffer: @unchecked Sendable {
    let bytes: UnsafeMutableRawBufferPointer

    init(capacity: Int) {
        bytes = .allocate(byteCount: capacity, alignment: 4096)
    }

    deinit {
        bytes.deallocate()
    }

    func prefix(_ count: Int) -> UnsafeMutableRawBufferPointer {
        UnsafeMutableRawBufferPointer(rebasing: bytes[..<count])
    }
}

extension UnsafeRawBufferPointer {
    /// Whether every byte is zero: word-at-a-time, no hashing.
    var isAllZero: Bool {
        var i = 0
        let n = count
        guard let base = baseAddress else { return true }
        while i + 64 <= n {
            var acc: UInt64 = 0
            for k in stride(from: 0, to: 64, by: 8) { acc |= base.loadUnaligned(fromByteOffset: i + k, as: UInt64.self) }
            if acc != 0 { return false }
            i += 64
        }
        while i < n {
            if base.load(fromByteOffset: i, as: UInt8.self) != 0 { return false }
            i += 1
        }
        return true
    }
}
