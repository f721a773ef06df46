/// The bytes of one read of a volume, as pieces: zeros (a zero block or a hole, never fetched)
/// or a range of a verified chunk held in memory. A FUSE reply sends the pieces as they are.
public struct VolumeData: Sendable {
    public enum Piece: Sendable {
        case zeros(Int)
        case chunk(ChunkData, Range<Int>)

        public var count: Int {
            switch self {
            case .zeros(let n): n
            case .chunk(_, let range): range.count
            }
        }
    }

    public var pieces: [Piece] = []

    public init(pieces: [Piece] = []) {
        self.pieces = pieces
    }

    public var count: Int { pieces.reduce(0) { $0 + $1.count } }

    mutating func append(_ piece: Piece) {
        if case .zeros(let n) = piece, case .zeros(let m)? = pieces.last {
            pieces[pieces.count - 1] = .zeros(n + m)
        } else {
            pieces.append(piece)
        }
    }

    /// The bytes in one array (for tests and small reads).
    public var bytes: [UInt8] {
        var out = [UInt8]()
        out.reserveCapacity(count)
        for piece in pieces {
            switch piece {
            case .zeros(let n): out += repeatElement(0, count: n)
            case .chunk(let data, let range): out += UnsafeRawBufferPointer(rebasing: data.bytes[range])
            }
        }
        return out
    }
}
