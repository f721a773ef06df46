import Foundation

/// Fills one pack with chunk records, then seals it with its trailer and footer.
///
/// One builder belongs to one worker at a time, or is guarded by its owner's lock: appends are
/// not synchronised (hence `@unchecked Sendable`). The buffer is allocated once at the pack's
/// full capacity, so appending never reallocates.
final class PackBuilder: @unchecked Sendable {
    let kind: PackFormat.Kind
    let salt: [UInt8]
    private let header: [UInt8]
    private let codec: ChunkCodec
    private let cipher: AESGCM?
    private let target: Int
    private var buffer: UnsafeMutableRawBufferPointer
    private(set) var size: Int
    private(set) var entries: [PackEntry] = []

    /// - Parameters:
    ///   - target: seal once the pack reaches this many bytes.
    ///   - maxChunk: the largest chunk that will be appended.
    init(kind: PackFormat.Kind, keys: MasterKeys?, hasher: ChunkHasher, target: Int, maxChunk: Int) {
        self.kind = kind
        salt = SecureRandom.bytes(32)
        cipher = keys?.subkey(salt: salt, purpose: PackFormat.purpose)
        codec = ChunkCodec(cipher: cipher, hasher: hasher)
        header = PackFormat.header(kind: kind, encrypted: keys != nil, salt: salt)
        self.target = target
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: target + ChunkCodec.maxRecordSize(maxChunk), alignment: 64)
        header.withUnsafeBytes { buffer.copyMemory(from: $0) }
        self.buffer = buffer
        size = header.count
    }

    deinit {
        buffer.deallocate()
    }

    var isEmpty: Bool { entries.isEmpty }
    var isFull: Bool { size >= target }

    /// Whether a chunk of `count` bytes may still be appended.
    func canAppend(_ count: Int) -> Bool {
        !isFull && size + ChunkCodec.maxRecordSize(count) <= buffer.count
    }

    /// Compresses, seals and appends a chunk. `scratch` must hold `Codec.lz4Bound(plaintext.count)` bytes.
    func append(_ plaintext: UnsafeRawBufferPointer, id: ChunkID, scratch: UnsafeMutableRawBufferPointer) -> PackEntry {
        precondition(size + ChunkCodec.maxRecordSize(plaintext.count) <= buffer.count, "pack overfilled")
        let n = codec.encode(plaintext, id: id, scratch: scratch, into: UnsafeMutableRawBufferPointer(rebasing: buffer[size...]))
        let entry = PackEntry(id: id, offset: UInt32(size), length: UInt32(n), rawLength: UInt32(plaintext.count))
        entries.append(entry)
        size += n
        return entry
    }

    /// Appends the trailer and footer and returns the finished pack. The builder is spent.
    func seal() -> SealedPack {
        var trailer = ByteWriter(capacity: entries.count * PackFormat.entrySize)
        for e in entries {
            trailer.id(e.id)
            trailer.u32(e.offset)
            trailer.u32(e.length)
            trailer.u32(e.rawLength)
        }
        let sealedTrailer = cipher?.seal(trailer.bytes, aad: PackFormat.trailerAAD(header: header)) ?? trailer.bytes
        var footer = ByteWriter(capacity: PackFormat.footerSize)
        footer.u32(UInt32(sealedTrailer.count))
        footer.u32(UInt32(entries.count))
        footer.raw(PackFormat.footerMagic)
        var bytes = [UInt8]()
        bytes.reserveCapacity(size + sealedTrailer.count + PackFormat.footerSize)
        bytes.append(contentsOf: UnsafeRawBufferPointer(rebasing: buffer[..<size]))
        bytes.append(contentsOf: sealedTrailer)
        bytes.append(contentsOf: footer.bytes)
        return SealedPack(id: Digest.sha256(bytes), kind: kind, salt: salt, bytes: bytes, entries: entries)
    }
}

/// A finished pack, ready to upload.
public struct SealedPack: Sendable {
    public var id: ChunkID
    public var kind: PackFormat.Kind
    public var salt: [UInt8]
    public var bytes: [UInt8]
    public var entries: [PackEntry]

    public var name: String { ObjectName.pack(id) }
}
