import Foundation

/// Byte-level edits of qcow2 files for tests that need images qemu-img will not make.
enum QCOW2Bytes {
    static func load(_ path: String) throws -> [UInt8] { [UInt8](try Data(contentsOf: URL(fileURLWithPath: path))) }
    static func save(_ bytes: [UInt8], _ path: String) throws { try Data(bytes).write(to: URL(fileURLWithPath: path)) }

    static func be32(_ bytes: [UInt8], _ offset: Int) -> UInt32 {
        (0..<4).reduce(0) { $0 << 8 | UInt32(bytes[offset + $1]) }
    }

    static func be64(_ bytes: [UInt8], _ offset: Int) -> UInt64 {
        (0..<8).reduce(0) { $0 << 8 | UInt64(bytes[offset + $1]) }
    }

    static func put32(_ bytes: inout [UInt8], _ offset: Int, _ value: UInt32) {
        for i in 0..<4 { bytes[offset + i] = UInt8(truncatingIfNeeded: value >> (24 - 8 * i)) }
    }

    static func put64(_ bytes: inout [UInt8], _ offset: Int, _ value: UInt64) {
        for i in 0..<8 { bytes[offset + i] = UInt8(truncatingIfNeeded: value >> (56 - 8 * i)) }
    }

    /// Offset of the header extension of `type` (its type field), if present.
    static func extensionOffset(_ type: UInt32, in bytes: [UInt8]) -> Int? {
        var offset = be32(bytes, 4) == 2 ? 72 : Int(be32(bytes, 100))
        while offset + 8 <= bytes.count {
            let found = be32(bytes, offset)
            if found == 0 { return nil }
            if found == type { return offset }
            offset += 8 + (Int(be32(bytes, offset + 4)) + 7) & ~7
        }
        return nil
    }

    /// Changes a header extension's type (to one readers ignore).
    static func retypeExtension(_ type: UInt32, to newType: UInt32, in path: String) throws {
        var bytes = try load(path)
        guard let offset = extensionOffset(type, in: bytes) else { throw CocoaError(.fileReadCorruptFile) }
        put32(&bytes, offset, newType)
        try save(bytes, path)
    }

    /// Cluster size, L1 table offset and its first entries.
    static func layout(_ bytes: [UInt8]) -> (clusterSize: Int, l1Offset: Int, l1Size: Int) {
        (1 << Int(be32(bytes, 20)), Int(be64(bytes, 40)), Int(be32(bytes, 36)))
    }
}
