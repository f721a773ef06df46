/// Fills one pack with chunk records, then seals it with its trailer and footer.
///
/// One builder belongs to one worker at a time, or is guarded by its owner's lock: appends are
/// not synchronised (hence `@unchecked Sendable`). Its byte array is reserved at the pack's
/// full size up front and handed to the upload without copying.
public final class PackBuilder: @unchecked Sendable {
    public let kind: PackFormat.Kind
    let salt: [UInt8]
    private let header: [UInt8]
    private let codec: ChunkCodec
    private let cipher: AESGCM?
    private let target: Int
    private let maxChunk: Int
    private var bytes: [UInt8] = []
    private(set) var entries: [PackEntry] = []

    /// - Parameters:
    ///   - target: the pack is full once it reaches this many bytes.
    ///   - maxChunk: the largest chunk that will be appended.
    ///   - buffer: an empty array whose capacity may be reused.
    init(
        kind: PackFormat.Kind, keys: MasterKeys?, hasher: ChunkHasher, target: Int, maxChunk: Int, compression: Compression = .lz4,
        buffer: consuming [UInt8] = []
    ) {
        self.kind = kind
        salt = SecureRandom.bytes(32)
        cipher = keys?.subkey(salt: salt, purpose: PackFormat.purpose)
        codec = ChunkCodec(cipher: cipher, hasher: hasher, compression: compression)
        header = PackFormat.header(kind: kind, encrypted: keys != nil, salt: salt)
        self.target = target
        self.maxChunk = maxChunk
        bytes = consume buffer
        bytes.removeAll(keepingCapacity: true)
        bytes.reserveCapacity(target + ChunkCodec.maxRecordSize(maxChunk) + (target / 4096 + 64) * PackFormat.entrySize)
        bytes.append(contentsOf: header)
    }

    public var isEmpty: Bool { entries.isEmpty }
    public var isFull: Bool { bytes.count >= target }
    public var size: Int { bytes.count }

    /// Whether a chunk of `count` bytes may still be appended.
    public func canAppend(_ count: Int) -> Bool {
        !isFull && count <= maxChunk
    }

    /// Compresses, seals and appends a chunk, using the caller's `scratch` buffers.
    @discardableResult
    public func append(_ plaintext: UnsafeRawBufferPointer, id: ChunkID, scratch: ChunkScratch) -> PackEntry {
        precondition(plaintext.count <= maxChunk && plaintext.count <= scratch.capacity, "chunk larger than the pack builder allows")
        let n = codec.encode(plaintext, id: id, scratch: scratch)
        let entry = PackEntry(id: id, offset: UInt32(bytes.count), length: UInt32(n), rawLength: UInt32(plaintext.count))
        bytes.append(contentsOf: UnsafeRawBufferPointer(rebasing: scratch.record[..<n]))
        entries.append(entry)
        return entry
    }

    /// Appends the trailer and footer and returns the finished pack. The builder is spent.
    public func seal() -> SealedPack {
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
        var finished: [UInt8] = []
        swap(&finished, &bytes)
        finished.append(contentsOf: sealedTrailer)
        finished.append(contentsOf: footer.bytes)
        let id = PackFormat.id(header: header, tail: Array(finished.suffix(sealedTrailer.count + PackFormat.footerSize)))
        return SealedPack(id: id, kind: kind, salt: salt, bytes: finished, entries: entries)
    }
}

/// Per-worker scratch space for encoding chunks of up to `capacity` bytes (allocated once, reused).
public final class ChunkScratch: @unchecked Sendable {
    public let capacity: Int
    let compressed: UnsafeMutableRawBufferPointer
    let record: UnsafeMutableRawBufferPointer
    /// Made on first use: only zstd needs one.
    private(set) lazy var zstd = ZstdContext()

    public init(capacity: Int) {
        self.capacity = capacity
        compressed = .allocate(byteCount: max(Codec.lz4Bound(capacity), Codec.zstdBound(capacity)), alignment: 64)
        record = .allocate(byteCount: ChunkCodec.maxRecordSize(capacity), alignment: 64)
    }

    deinit {
        compressed.deallocate()
        record.deallocate()
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
