import Foundation

/// Reproducible pseudo-random bytes (SplitMix64) for test data: the same seed gives the same
/// bytes on every machine, so a failure can be replayed.
public struct DeterministicBytes: RandomNumberGenerator, Sendable {
    private var state: UInt64

    public init(seed: UInt64) {
        state = seed
    }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// `count` random bytes.
    public mutating func bytes(_ count: Int) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: count)
        out.withUnsafeMutableBytes { raw in
            var i = 0
            while i + 8 <= count {
                raw.storeBytes(of: next(), toByteOffset: i, as: UInt64.self)
                i += 8
            }
            while i < count {
                raw[i] = UInt8(truncatingIfNeeded: next())
                i += 1
            }
        }
        return out
    }

    /// Text-like bytes that compress well.
    public mutating func text(_ count: Int) -> [UInt8] {
        let words = ["ferry", "block", "volume", "snapshot", "backup", "restore", "chunk", "pack", "index", "node"]
        var out: [UInt8] = []
        out.reserveCapacity(count + 16)
        while out.count < count {
            out += Array(words[Int(next() % UInt64(words.count))].utf8)
            out.append(next() % 8 == 0 ? 10 : 32)
        }
        return Array(out.prefix(count))
    }
}

/// Writing test images.
public enum ImageFile {
    /// Creates a sparse file of `size` bytes.
    public static func create(_ path: String, size: Int64) throws {
        guard FileManager.default.createFile(atPath: path, contents: nil) else { throw CocoaError(.fileWriteUnknown) }
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
        try handle.truncate(atOffset: UInt64(size))
        try handle.close()
    }

    /// Writes `bytes` at `offset`.
    public static func write(_ path: String, at offset: Int64, _ bytes: [UInt8]) throws {
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
        try handle.seek(toOffset: UInt64(offset))
        try handle.write(contentsOf: bytes)
        try handle.close()
    }

    /// `count` bytes from /dev/urandom: fast, for large incompressible test data.
    public static func urandom(_ count: Int) throws -> [UInt8] {
        let handle = try FileHandle(forReadingFrom: URL(fileURLWithPath: "/dev/urandom"))
        defer { try? handle.close() }
        var bytes = [UInt8]()
        bytes.reserveCapacity(count)
        while bytes.count < count {
            bytes += try handle.read(upToCount: min(4 << 20, count - bytes.count)) ?? Data()
        }
        return bytes
    }

    public static func read(_ path: String) throws -> [UInt8] {
        [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
    }

    /// Whether two files have the same bytes (streamed, so large images are fine).
    public static func identical(_ a: String, _ b: String) throws -> Bool {
        let x = try FileHandle(forReadingFrom: URL(fileURLWithPath: a))
        let y = try FileHandle(forReadingFrom: URL(fileURLWithPath: b))
        defer { try? x.close(); try? y.close() }
        while true {
            let p = try x.read(upToCount: 4 << 20) ?? Data()
            let q = try y.read(upToCount: 4 << 20) ?? Data()
            if p != q { return false }
            if p.isEmpty { return true }
        }
    }
}
