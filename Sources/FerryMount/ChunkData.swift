/// A verified chunk's plaintext in memory that never moves, so a FUSE reply can point into it
/// while the value is alive. Immutable once filled.
public final class ChunkData: @unchecked Sendable {
    /// The bytes (exactly the chunk's length).
    public let bytes: UnsafeRawBufferPointer
    private let storage: UnsafeMutableRawBufferPointer

    /// Allocates `count` bytes and lets `fill` write them (it must write all of them or throw).
    public init(count: Int, fill: (UnsafeMutableRawBufferPointer) throws -> Void) rethrows {
        storage = .allocate(byteCount: max(count, 1), alignment: 64)
        let used = UnsafeMutableRawBufferPointer(rebasing: storage[0..<count])
        do {
            try fill(used)
        } catch {
            storage.deallocate()
            throw error
        }
        bytes = UnsafeRawBufferPointer(start: storage.baseAddress, count: count)
    }

    public convenience init(_ array: [UInt8]) {
        self.init(count: array.count) { output in array.withUnsafeBytes { output.copyMemory(from: $0) } }
    }

    public var count: Int { bytes.count }

    deinit {
        storage.deallocate()
    }
}
