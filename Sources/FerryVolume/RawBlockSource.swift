import FerrySystem

#if canImport(Glibc)
    import Glibc
#endif

/// A raw disk: a regular file (raw image) or a block device, read as is.
///
/// A block device is opened with `O_EXCL`, which the kernel refuses with EBUSY while the device
/// is mounted or another process holds it exclusively; that is reported as `VolumeError.busy`
/// unless `force` is set. Holes in a sparse file are found with SEEK_DATA/SEEK_HOLE.
public struct RawBlockSource: BlockSource {
    public let path: String
    public let size: Int64
    public let isBlockDevice: Bool
    private let file: File

    public var description: String { path }

    public init(path: String, force: Bool = false) throws {
        self.path = path
        var st = stat()
        guard stat(path, &st) == 0 else {
            throw VolumeError.unreadable(path: path, detail: String(cString: strerror(errno)))
        }
        let type = st.st_mode & S_IFMT
        guard type == S_IFREG || type == S_IFBLK else {
            throw VolumeError.unsupported(path: path, detail: "not a regular file or a block device")
        }
        isBlockDevice = type == S_IFBLK
        var flags = O_RDONLY
        if isBlockDevice && !force { flags |= O_EXCL }
        do {
            file = try File.open(path, flags: flags)
        } catch {
            if error.isBusy { throw VolumeError.busy(path: path, detail: "mounted or opened exclusively by another process") }
            throw VolumeError.unreadable(path: path, detail: String(cString: strerror(error.code)))
        }
        do {
            size = try file.size()
        } catch {
            file.close()
            throw VolumeError.io(error)
        }
    }

    /// Releases the descriptor. The source must not be read afterwards.
    public func close() {
        file.close()
    }

    public func read(at offset: Int64, into buffer: UnsafeMutableRawBufferPointer) throws {
        let n: Int
        do { n = try file.read(at: offset, into: buffer) } catch { throw VolumeError.io(error) }
        if n < buffer.count {
            let now = (try? file.size()) ?? offset + Int64(n)
            throw VolumeError.sourceShrank(path: path, expected: size, actual: now)
        }
    }

    public func dataRanges(in range: Range<Int64>) throws -> [Range<Int64>] {
        guard !isBlockDevice, !range.isEmpty else { return range.isEmpty ? [] : [range] }
        var ranges: [Range<Int64>] = []
        var position = range.lowerBound
        while position < range.upperBound {
            let data = lseek(file.descriptor, off_t(position), LinuxConstant.seekData)
            if data < 0 {
                if errno == ENXIO { break } // no data after position
                if errno == EINVAL { return [range] } // filesystem without SEEK_DATA
                throw VolumeError.io(SystemError("lseek(LinuxConstant.seekData)", path: path))
            }
            if Int64(data) >= range.upperBound { break }
            var hole = lseek(file.descriptor, off_t(data), LinuxConstant.seekHole)
            if hole < 0 { hole = off_t(range.upperBound) }
            let end = min(Int64(hole), range.upperBound)
            ranges.append(Int64(data)..<end)
            position = end
        }
        return ranges
    }
}
