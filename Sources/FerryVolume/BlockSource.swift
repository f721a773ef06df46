/// A volume's guest-visible bytes, readable at any offset: a raw image file, a block device, or
/// a disk image format (qcow2) translated to the disk its guest sees.
///
/// Reads are blocking and may be issued from several threads at once.
public protocol BlockSource: Sendable {
    /// Guest-visible size in bytes.
    var size: Int64 { get }

    /// What the source is, for messages and manifests (usually its path).
    var description: String { get }

    /// Fills `buffer` with the bytes at `offset`. The range must lie inside `size`.
    /// Throws `VolumeError.sourceShrank` if the source ends early.
    func read(at offset: Int64, into buffer: UnsafeMutableRawBufferPointer) throws

    /// The parts of `range` that may hold data, ascending and disjoint; everything else in
    /// `range` reads as zeros and need not be read. A source that cannot tell returns `[range]`.
    func dataRanges(in range: Range<Int64>) throws -> [Range<Int64>]
}
