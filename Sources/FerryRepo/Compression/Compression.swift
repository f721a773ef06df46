/// How new chunks are compressed: the repository's default (`config.compression`, chosen at
/// `repo init`) or one backup's choice. Reading never depends on it: every stored chunk names
/// its codec.
public enum Compression: Sendable, Equatable, CustomStringConvertible {
    /// LZ4, the default: the fastest, for full backups at disk speed.
    case lz4
    /// zstd at `level` (-7...19). On the benchmark's disk image level -1 stores 12% less than
    /// LZ4 at about its speed and level 1 23% less at 1.3× its time; restores are 15–30% slower.
    case zstd(level: Int32)

    public static let zstdLevels: ClosedRange<Int32> = -7...19

    /// Parses "lz4", "zstd" (level 1) or "zstd:LEVEL".
    public init?(_ text: String) {
        switch text {
        case "lz4": self = .lz4
        case "zstd": self = .zstd(level: 1)
        default:
            guard text.hasPrefix("zstd:"), let level = Int32(text.dropFirst(5)), level != 0, Self.zstdLevels.contains(level) else {
                return nil
            }
            self = .zstd(level: level)
        }
    }

    public var description: String {
        switch self {
        case .lz4: "lz4"
        case .zstd(let level): level == 1 ? "zstd" : "zstd:\(level)"
        }
    }
}
