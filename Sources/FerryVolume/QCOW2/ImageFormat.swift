import FerrySystem

#if canImport(Glibc)
    import Glibc
#endif

/// The on-disk format of a volume source (`--format auto|raw|qcow2`): `auto` tells qcow2 from
/// raw by the magic at offset 0, and refuses other image formats rather than backing up their
/// container bytes as if they were the guest's disk.
public enum ImageFormat: String, Sendable, CaseIterable, Codable {
    case auto
    case raw
    case qcow2

    /// Opens `path` in this format (detecting it first for `auto`).
    public func open(path: String, force: Bool = false, qcow2Options: QCOW2Options = QCOW2Options()) throws -> any BlockSource {
        switch self == .auto ? try Self.detect(path: path) : self {
        case .qcow2:
            var options = qcow2Options
            options.force = force || options.force
            return try QCOW2BlockSource(path: path, options: options)
        default:
            return try RawBlockSource(path: path, force: force)
        }
    }

    /// `.qcow2` or `.raw`, by the first bytes of `path`.
    public static func detect(path: String) throws -> ImageFormat {
        var st = stat()
        guard stat(path, &st) == 0 else {
            throw VolumeError.unreadable(path: path, detail: String(cString: strerror(errno)))
        }
        guard st.st_mode & S_IFMT == S_IFREG || st.st_mode & S_IFMT == S_IFBLK else {
            throw VolumeError.unsupported(path: path, detail: "not a regular file or a block device")
        }
        let file: File
        do { file = try File.open(path, flags: O_RDONLY) } catch {
            throw VolumeError.unreadable(path: path, detail: String(cString: strerror(error.code)))
        }
        defer { file.close() }
        let head = try readBytes(file, at: 0, count: 512)
        return try detect(head: head, path: path)
    }

    /// `.qcow2` or `.raw`, by the first bytes of an image. Formats Ferry cannot translate are refused.
    public static func detect(head: [UInt8], path: String) throws -> ImageFormat {
        func starts(with magic: String) -> Bool { head.starts(with: Array(magic.utf8)) }
        if head.count >= 4, head.be32(at: 0) == QCOW2Header.magic { return .qcow2 }
        let foreign: String? =
            if starts(with: "KDMV") || starts(with: "# Disk DescriptorFile") { "VMDK" } else if starts(with: "vhdxfile") {
                "VHDX"
            } else if starts(with: "conectix") { "VHD" } else if head.count >= 68, head[64...67].elementsEqual([0x7F, 0x10, 0xDA, 0xBE]) {
                "VDI"
            } else if starts(with: "QED\0") { "QED" } else { nil }
        if let foreign {
            throw VolumeError.unsupported(
                path: path,
                detail:
                    """
                    a \(foreign) image; convert it with qemu-img convert -O qcow2, \
                    or pass --format raw to back up the file's bytes as they are
                    """
            )
        }
        return .raw
    }
}

extension BlockSource {
    /// The source's format as manifests record it: "qcow2" for a qcow2 image, else "raw".
    public var formatName: String { self is QCOW2BlockSource ? ImageFormat.qcow2.rawValue : ImageFormat.raw.rawValue }
}
