import FerrySystem

/// A qcow2 image header (versions 2 and 3) with the header extensions Ferry uses, parsed and
/// validated strictly: every offset and size it returns has been checked against the file, so the
/// reader never follows a pointer outside the image or allocates what a corrupt field asks for.
public struct QCOW2Header: Sendable, Equatable {
    /// "QFI\xfb".
    public static let magic: UInt32 = 0x5146_49FB
    /// QEMU's own limit on the L1 table (32 MiB); larger tables are refused as corrupt.
    public static let maxL1Bytes = 32 << 20
    /// The largest virtual size accepted (4 EiB); the L1 coverage check bounds it further.
    public static let maxVirtualSize: Int64 = 1 << 62

    /// How compressed clusters are compressed (header byte 104).
    public enum CompressionType: UInt8, Sendable {
        case deflate = 0
        case zstd = 1
    }

    /// The bitmaps extension (0x23852875): where the bitmap directory is.
    public struct BitmapsExtension: Sendable, Equatable {
        public var count: Int
        public var directorySize: Int
        public var directoryOffset: Int64
    }

    /// Incompatible feature bits.
    public enum Incompatible {
        public static let dirty: UInt64 = 1 << 0
        public static let corrupt: UInt64 = 1 << 1
        public static let externalDataFile: UInt64 = 1 << 2
        public static let compressionType: UInt64 = 1 << 3
        public static let extendedL2: UInt64 = 1 << 4
        static let known: UInt64 = 0x1F
    }

    /// Auto-clear feature bits.
    public enum Autoclear {
        public static let bitmapsConsistent: UInt64 = 1 << 0
        public static let rawExternalData: UInt64 = 1 << 1
    }

    enum ExtensionType {
        static let end: UInt32 = 0
        static let backingFormat: UInt32 = 0xE279_2ACA
        static let featureNames: UInt32 = 0x6803_F857
        static let bitmaps: UInt32 = 0x2385_2875
        static let encryption: UInt32 = 0x0537_BE77
        static let dataFile: UInt32 = 0x4441_5441
    }

    public var version: UInt32
    public var clusterBits: Int
    /// Guest-visible size in bytes.
    public var size: Int64
    public var l1Size: Int
    public var l1TableOffset: Int64
    public var snapshotCount: UInt32
    public var incompatibleFeatures: UInt64
    public var compatibleFeatures: UInt64
    public var autoclearFeatures: UInt64
    public var refcountOrder: UInt32
    public var headerLength: Int
    public var compressionType: CompressionType
    /// The backing file name as stored (relative names are relative to the image's directory).
    public var backingFile: String?
    /// The backing file's format from the 0xe2792aca extension ("raw", "qcow2"), if recorded.
    public var backingFormat: String?
    /// The external data file name from the 0x44415441 extension, if recorded.
    public var dataFile: String?
    /// Where the bitmaps are, when the extension is present and well-formed.
    public var bitmaps: BitmapsExtension?
    /// Why the bitmaps extension was ignored, when it is present but malformed. A bad bitmaps
    /// extension does not stop the disk from being read; change tracking refuses the bitmaps.
    public var bitmapsProblem: String?

    public var clusterSize: Int { 1 << clusterBits }
    public var hasExtendedL2: Bool { incompatibleFeatures & Incompatible.extendedL2 != 0 }
    public var hasExternalDataFile: Bool { incompatibleFeatures & Incompatible.externalDataFile != 0 }
    /// The external data file is itself a consistent raw image of the disk (`data_file_raw`).
    public var dataFileIsRaw: Bool { autoclearFeatures & Autoclear.rawExternalData != 0 }
    /// The bitmaps extension data was written by software that kept it up to date.
    public var bitmapsConsistent: Bool { autoclearFeatures & Autoclear.bitmapsConsistent != 0 }
    public var isDirty: Bool { incompatibleFeatures & Incompatible.dirty != 0 }
    /// L2 entries per L2 table (one cluster; extended entries are twice as wide).
    public var l2Entries: Int { clusterSize / (hasExtendedL2 ? 16 : 8) }
    /// Bytes of guest disk one L2 table maps.
    public var bytesPerL2Table: Int64 { Int64(l2Entries) << clusterBits }

    /// Reads and validates the header of the image open as `file`.
    static func read(from file: File, fileSize: Int64) throws -> QCOW2Header {
        var length = Int(min(fileSize, 4096))
        var bytes = try readBytes(file, at: 0, count: length)
        if bytes.count >= 24 {
            let bits = Int(bytes.be32(at: 20))
            if (9...21).contains(bits), 1 << bits > length, fileSize > Int64(length) {
                length = Int(min(fileSize, Int64(1 << bits)))
                bytes = try readBytes(file, at: 0, count: length)
            }
        }
        return try parse(bytes, fileSize: fileSize, path: file.path)
    }

    /// Parses the image's first cluster (or as much of it as the file holds).
    /// - Parameter fileSize: the image file's size, against which offsets are checked.
    public static func parse(_ bytes: [UInt8], fileSize: Int64, path: String) throws(QCOW2Error) -> QCOW2Header {
        guard bytes.count >= 4, bytes.be32(at: 0) == magic else {
            if bytes.count < 4 { throw .truncated(path: path, structure: "header", needed: 72, fileSize: fileSize) }
            throw .notQCOW2(path: path)
        }
        guard bytes.count >= 8 else { throw .truncated(path: path, structure: "header", needed: 72, fileSize: fileSize) }
        let version = bytes.be32(at: 4)
        guard version == 2 || version == 3 else { throw .unsupportedVersion(path: path, version: version) }
        let minimum = version == 2 ? 72 : 104
        guard bytes.count >= minimum else {
            throw .truncated(path: path, structure: "version \(version) header", needed: Int64(minimum), fileSize: fileSize)
        }

        let clusterBits = Int(bytes.be32(at: 20))
        guard (9...21).contains(clusterBits) else {
            throw .invalidHeader(path: path, field: "cluster_bits", detail: "\(clusterBits) is outside 9...21 (512-byte to 2 MiB clusters)")
        }
        let clusterSize = 1 << clusterBits
        let rawSize = bytes.be64(at: 24)
        guard rawSize <= UInt64(maxVirtualSize) else {
            throw .invalidHeader(path: path, field: "size", detail: "\(rawSize) bytes is beyond the 4 EiB qcow2 can address")
        }
        let size = Int64(rawSize)
        let cryptMethod = bytes.be32(at: 32)
        guard cryptMethod == 0 else {
            let name = cryptMethod == 1 ? "AES" : cryptMethod == 2 ? "LUKS" : "method \(cryptMethod)"
            throw .unsupportedFeature(path: path, detail: "\(name) encryption; decrypt it first (qemu-img convert -O qcow2)")
        }

        var header = QCOW2Header(
            version: version, clusterBits: clusterBits, size: size,
            l1Size: Int(bytes.be32(at: 36)), l1TableOffset: 0,
            snapshotCount: bytes.be32(at: 60),
            incompatibleFeatures: 0, compatibleFeatures: 0, autoclearFeatures: 0,
            refcountOrder: 4, headerLength: 72, compressionType: .deflate)

        if version == 3 {
            header.incompatibleFeatures = bytes.be64(at: 72)
            header.compatibleFeatures = bytes.be64(at: 80)
            header.autoclearFeatures = bytes.be64(at: 88)
            header.refcountOrder = bytes.be32(at: 96)
            let headerLength = Int(bytes.be32(at: 100))
            guard headerLength >= 104, headerLength % 8 == 0, headerLength <= clusterSize else {
                throw .invalidHeader(
                    path: path, field: "header_length",
                    detail: "\(headerLength) must be a multiple of 8 between 104 and the cluster size \(clusterSize)")
            }
            guard headerLength <= bytes.count else {
                throw .truncated(path: path, structure: "header", needed: Int64(headerLength), fileSize: fileSize)
            }
            header.headerLength = headerLength
            guard header.refcountOrder <= 6 else {
                throw .invalidHeader(path: path, field: "refcount_order", detail: "\(header.refcountOrder) is above 6")
            }
            if headerLength > 104, let type = CompressionType(rawValue: bytes[104]) {
                header.compressionType = type
            } else if headerLength > 104 {
                throw .unsupportedFeature(path: path, detail: "compression type \(bytes[104]) (known: 0 deflate, 1 zstd)")
            }
        }

        // Header extensions: between the header and the end of the first cluster.
        let limit = min(clusterSize, bytes.count)
        var featureNames: [UInt64: String] = [:]
        var seen: Set<UInt32> = []
        var offset = header.headerLength
        while offset + 8 <= limit {
            let type = bytes.be32(at: offset)
            let length = Int(bytes.be32(at: offset + 4))
            offset += 8
            if type == ExtensionType.end { break }
            let typeName = "0x" + String(type, radix: 16)
            guard length <= limit - offset else {
                throw .invalidHeader(
                    path: path, field: "header extension \(typeName)", detail: "its length \(length) runs past the first cluster")
            }
            guard seen.insert(type).inserted else {
                throw .invalidHeader(path: path, field: "header extension \(typeName)", detail: "it appears twice")
            }
            switch type {
            case ExtensionType.backingFormat:
                guard length <= 255 else {
                    throw .invalidHeader(path: path, field: "backing format extension", detail: "a \(length)-byte format name")
                }
                header.backingFormat = bytes.string(at: offset, count: length)
            case ExtensionType.dataFile:
                guard length > 0, length <= 4096 else {
                    throw .invalidHeader(path: path, field: "data file extension", detail: "a \(length)-byte file name")
                }
                header.dataFile = bytes.string(at: offset, count: length)
            case ExtensionType.featureNames:
                var entry = offset
                while entry + 48 <= offset + length {
                    let kind = bytes[entry], bit = bytes[entry + 1]
                    if kind == 0, bit < 64 {
                        let name = bytes[(entry + 2)..<(entry + 48)].prefix { $0 != 0 }
                        featureNames[UInt64(1) << bit] = String(decoding: name, as: UTF8.self)
                    }
                    entry += 48
                }
            case ExtensionType.bitmaps:
                header.parseBitmapsExtension(bytes, at: offset, length: length, fileSize: fileSize)
            default:
                break // unknown extensions may be ignored (and the encryption pointer goes with crypt_method)
            }
            offset += (length + 7) & ~7
        }

        let unknown = header.incompatibleFeatures & ~Incompatible.known
        if unknown != 0 {
            let names = (0..<64).compactMap { bit -> String? in
                let mask = UInt64(1) << bit
                guard unknown & mask != 0 else { return nil }
                return featureNames[mask].map { "\"\($0)\" (bit \(bit))" } ?? "bit \(bit)"
            }
            throw .unsupportedFeature(path: path, detail: "unknown incompatible feature \(names.joined(separator: ", "))")
        }
        if header.incompatibleFeatures & Incompatible.corrupt != 0 {
            throw .unsupportedFeature(path: path, detail: "QEMU marked it corrupt; repair it first (qemu-img check -r all)")
        }
        if header.hasExtendedL2, clusterBits < 14 {
            throw .invalidHeader(
                path: path, field: "cluster_bits", detail: "extended L2 entries need clusters of at least 16 KiB, not \(clusterSize) bytes")
        }
        let compressionBit = header.incompatibleFeatures & Incompatible.compressionType != 0
        if compressionBit != (header.compressionType != .deflate) {
            throw .invalidHeader(
                path: path, field: "compression_type",
                detail: compressionBit
                    ? "the compression type feature bit is set but the type is deflate"
                    : "type \(header.compressionType) is set without the compression type feature bit")
        }
        if header.dataFileIsRaw, !header.hasExternalDataFile {
            throw .invalidHeader(
                path: path, field: "autoclear_features", detail: "data_file_raw is set but the image has no external data file")
        }

        // Backing file name: inside the first cluster, at most 1023 bytes.
        let backingOffset = bytes.be64(at: 8)
        let backingSize = Int(bytes.be32(at: 16))
        if backingOffset != 0, backingSize > 0 {
            guard backingSize <= 1023 else {
                throw .invalidHeader(path: path, field: "backing_file_size", detail: "\(backingSize) is above 1023")
            }
            guard backingOffset >= UInt64(header.headerLength), backingOffset + UInt64(backingSize) <= UInt64(limit) else {
                throw .invalidHeader(
                    path: path, field: "backing_file_offset",
                    detail: "the name at \(backingOffset)+\(backingSize) is not inside the first cluster")
            }
            header.backingFile = bytes.string(at: Int(backingOffset), count: backingSize)
            if header.dataFileIsRaw {
                throw .invalidHeader(
                    path: path, field: "backing_file_offset", detail: "a raw external data file (data_file_raw) cannot have a backing file")
            }
        }

        // L1 table: aligned, inside the file, not above QEMU's limit, and covering the disk.
        let l1Offset = bytes.be64(at: 40)
        guard header.l1Size <= maxL1Bytes / 8 else {
            throw .invalidHeader(path: path, field: "l1_size", detail: "\(header.l1Size) entries exceed the 32 MiB L1 limit")
        }
        let coverage = header.bytesPerL2Table
        let needed = (size + coverage - 1) / coverage
        guard Int64(header.l1Size) >= needed else {
            throw .invalidHeader(
                path: path, field: "l1_size",
                detail: "\(header.l1Size) entries map \(Int64(header.l1Size) * coverage) bytes, less than the \(size)-byte disk")
        }
        if header.l1Size > 0 {
            guard l1Offset % UInt64(clusterSize) == 0, l1Offset != 0 else {
                throw .invalidHeader(
                    path: path, field: "l1_table_offset",
                    detail: "\(l1Offset) is not a non-zero multiple of the cluster size \(clusterSize)")
            }
            let end = l1Offset.addingReportingOverflow(UInt64(header.l1Size) * 8)
            guard !end.overflow, end.partialValue <= UInt64(fileSize) else {
                throw .truncated(
                    path: path, structure: "L1 table at \(l1Offset)", needed: Int64(clamping: end.partialValue), fileSize: fileSize)
            }
            header.l1TableOffset = Int64(l1Offset)
        }
        return header
    }

    private mutating func parseBitmapsExtension(_ bytes: [UInt8], at offset: Int, length: Int, fileSize: Int64) {
        guard length >= 24 else { bitmapsProblem = "the bitmaps extension is \(length) bytes, not 24"; return }
        let count = bytes.be32(at: offset)
        let reserved = bytes.be32(at: offset + 4)
        let directorySize = bytes.be64(at: offset + 8)
        let directoryOffset = bytes.be64(at: offset + 16)
        if count == 0 || count > 65535 {
            bitmapsProblem = "the bitmaps extension counts \(count) bitmaps (1...65535 allowed)"
        } else if reserved != 0 {
            bitmapsProblem = "the bitmaps extension's reserved field is not zero"
        } else if directorySize > 64 << 20 || directorySize < UInt64(count) * 24 {
            bitmapsProblem = "the bitmap directory size \(directorySize) does not fit \(count) entries"
        } else if directoryOffset == 0 || directoryOffset % UInt64(clusterSize) != 0 || directoryOffset + directorySize > UInt64(fileSize) {
            bitmapsProblem = "the bitmap directory at \(directoryOffset)+\(directorySize) is unaligned or outside the file"
        } else {
            bitmaps = BitmapsExtension(count: Int(count), directorySize: Int(directorySize), directoryOffset: Int64(directoryOffset))
        }
    }
}

/// Reads exactly `count` bytes at `offset` (fewer only if the file ends).
func readBytes(_ file: File, at offset: Int64, count: Int) throws -> [UInt8] {
    var bytes = [UInt8](repeating: 0, count: count)
    let n = try bytes.withUnsafeMutableBytes { buffer throws(VolumeError) -> Int in
        do throws(SystemError) { return try file.read(at: offset, into: buffer) } catch { throw .io(error) }
    }
    if n < count { bytes.removeLast(count - n) }
    return bytes
}
