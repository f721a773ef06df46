/// Encodes chunks into pack records and decodes them back, verifying their ids.
///
/// A record is `seal(codec u8 | payload)` with the chunk id as associated data; the payload is
/// compressed (LZ4, or zstd when so configured) when that is smaller, the plaintext otherwise. Decoding checks authentication, decodes,
/// and re-hashes the plaintext, so a wrong byte anywhere is caught, never restored.
public struct ChunkCodec: Sendable {
    let cipher: AESGCM?
    let hasher: ChunkHasher
    /// How `encode` compresses; decoding follows each record's codec byte.
    let compression: Compression

    init(cipher: AESGCM?, hasher: ChunkHasher, compression: Compression = .lz4) {
        self.cipher = cipher
        self.hasher = hasher
        self.compression = compression
    }

    /// The largest record a chunk of `count` bytes can become.
    static func maxRecordSize(_ count: Int) -> Int {
        1 + max(count, Codec.lz4Bound(count), Codec.zstdBound(count)) + AESGCM.overhead
    }

    /// Encodes `plaintext` (whose id is `id`) into `scratch.record` using `scratch`'s other
    /// buffers. Returns the record's length.
    func encode(_ plaintext: UnsafeRawBufferPointer, id: ChunkID, scratch: ChunkScratch) -> Int {
        let compressed: (Codec, Int?) =
            switch compression {
            case .lz4: (.lz4, Codec.lz4Compress(plaintext, into: scratch.compressed))
            case .zstd(let level): (.zstd, Codec.zstdCompress(plaintext, into: scratch.compressed, level: level, context: scratch.zstd))
            }
        var codec = Codec.none
        var payload = plaintext
        if case (let used, let n?) = compressed {
            codec = used
            payload = UnsafeRawBufferPointer(rebasing: scratch.compressed[..<n])
        }
        let output = scratch.record
        guard let cipher else {
            output[0] = codec.rawValue
            UnsafeMutableRawBufferPointer(rebasing: output[1...]).copyMemory(from: payload)
            return 1 + payload.count
        }
        let codecByte = [codec.rawValue]
        return codecByte.withUnsafeBytes { codecBytes in
            id.bytes.withUnsafeBytes { cipher.seal([codecBytes, payload], aad: $0, into: output) }
        }
    }

    /// Decodes a record into `output` (exactly the chunk's raw length) and verifies the id.
    /// `scratch`, when given, must hold the record's size and saves an allocation per chunk.
    /// `pack` names the pack for error messages.
    public func decode(
        _ record: UnsafeRawBufferPointer, id: ChunkID, into output: UnsafeMutableRawBufferPointer,
        scratch: UnsafeMutableRawBufferPointer? = nil, pack: String
    ) throws {
        if let cipher {
            guard record.count > AESGCM.overhead else { throw RepositoryError.chunkMismatch(id: id, pack: pack) }
            let needed = record.count - AESGCM.overhead
            if let scratch, scratch.count >= needed {
                try open(record, id: id, cipher: cipher, into: scratch, output: output, pack: pack)
            } else {
                let owned = UnsafeMutableRawBufferPointer.allocate(byteCount: needed, alignment: 16)
                defer { owned.deallocate() }
                try open(record, id: id, cipher: cipher, into: owned, output: output, pack: pack)
            }
        } else {
            guard record.count >= 1 else { throw RepositoryError.chunkMismatch(id: id, pack: pack) }
            try decodePlain(record, id: id, into: output, pack: pack)
        }
        guard hasher.id(of: UnsafeRawBufferPointer(output)) == id else {
            throw RepositoryError.chunkMismatch(id: id, pack: pack)
        }
    }

    private func open(
        _ record: UnsafeRawBufferPointer, id: ChunkID, cipher: AESGCM, into plain: UnsafeMutableRawBufferPointer,
        output: UnsafeMutableRawBufferPointer, pack: String
    ) throws {
        let n = id.bytes.withUnsafeBytes { cipher.open(record, aad: $0, into: plain) }
        guard let n, n >= 1 else { throw RepositoryError.chunkMismatch(id: id, pack: pack) }
        try decodePlain(UnsafeRawBufferPointer(rebasing: plain[..<n]), id: id, into: output, pack: pack)
    }

    private func decodePlain(_ plain: UnsafeRawBufferPointer, id: ChunkID, into output: UnsafeMutableRawBufferPointer, pack: String) throws
    {
        let payload = UnsafeRawBufferPointer(rebasing: plain[1...])
        switch Codec(rawValue: plain[0]) {
        case .none?:
            guard payload.count == output.count else { throw RepositoryError.chunkMismatch(id: id, pack: pack) }
            output.copyMemory(from: payload)
        case .lz4?:
            guard Codec.lz4Decompress(payload, into: output) else { throw RepositoryError.chunkMismatch(id: id, pack: pack) }
        case .zstd?:
            guard Codec.zstdDecompress(payload, into: output) else { throw RepositoryError.chunkMismatch(id: id, pack: pack) }
        case nil:
            throw RepositoryError.chunkMismatch(id: id, pack: pack)
        }
    }
}
