/// Why a qcow2 image could not be opened or read: each case names the image and the structure
/// at fault, so a user can tell a damaged image from an unsupported one.
public enum QCOW2Error: Error, Sendable, Equatable, CustomStringConvertible {
    /// The file does not start with the qcow2 magic.
    case notQCOW2(path: String)
    /// A qcow2 version other than 2 or 3 (version 1 is the old, different "qcow" format).
    case unsupportedVersion(path: String, version: UInt32)
    /// A header field holds a value the format does not allow.
    case invalidHeader(path: String, field: String, detail: String)
    /// The image uses something Ferry cannot read (encryption, an unknown incompatible feature).
    case unsupportedFeature(path: String, detail: String)
    /// The file ends before a structure it must contain.
    case truncated(path: String, structure: String, needed: Int64, fileSize: Int64)
    /// A table (L1, L2, bitmap table, bitmap directory) holds an entry that cannot be right:
    /// an unaligned or out-of-file offset, reserved bits set, contradictory flags.
    case corruptTable(path: String, table: String, detail: String)
    /// A compressed cluster that does not decompress to exactly one cluster.
    case badCompressedCluster(path: String, guestOffset: Int64, detail: String)
    /// The backing chain leads back to an image already in it.
    case backingChainLoop(path: String, repeated: String)
    /// The backing chain is deeper than the limit (a guard against crafted chains).
    case backingChainTooDeep(path: String, limit: Int)
    /// The backing file or external data file named in the header cannot be opened.
    case missingFile(path: String, role: String, file: String, detail: String)

    public var description: String {
        switch self {
        case let .notQCOW2(path):
            "\(path) is not a qcow2 image (no QFI\\xfb magic)"
        case let .unsupportedVersion(path, version):
            "\(path) is qcow version \(version); Ferry reads qcow2 versions 2 and 3 (convert it with qemu-img convert -O qcow2)"
        case let .invalidHeader(path, field, detail):
            "\(path): invalid qcow2 header field \(field): \(detail)"
        case let .unsupportedFeature(path, detail):
            "\(path): unsupported qcow2 image: \(detail)"
        case let .truncated(path, structure, needed, fileSize):
            "\(path) is truncated: its \(structure) needs \(needed) bytes but the file holds \(fileSize)"
        case let .corruptTable(path, table, detail):
            "\(path): corrupt qcow2 \(table): \(detail) (qemu-img check \(path) tells more)"
        case let .badCompressedCluster(path, guestOffset, detail):
            "\(path): the compressed cluster at guest offset \(guestOffset) is damaged: \(detail)"
        case let .backingChainLoop(path, repeated):
            "\(path): the backing chain loops: \(repeated) appears in it twice"
        case let .backingChainTooDeep(path, limit):
            "\(path): the backing chain is deeper than \(limit) images"
        case let .missingFile(path, role, file, detail):
            "\(path): cannot open its \(role) \(file): \(detail)"
        }
    }
}
