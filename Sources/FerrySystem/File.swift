import CSystemShims

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// An open file descriptor with whole-buffer positional I/O that retries EINTR and short
/// transfers. It does not close itself: call `close()` (ownership stays explicit because
/// descriptors are shared between threads of a pipeline).
public struct File: Sendable {
    public let descriptor: Int32
    /// The path it was opened with, for error messages.
    public let path: String

    public init(descriptor: Int32, path: String) {
        self.descriptor = descriptor
        self.path = path
    }

    /// Opens `path` with `flags` (and `mode` when creating).
    public static func open(_ path: String, flags: Int32, mode: mode_t = 0o644) throws(SystemError) -> File {
        while true {
            let fd = Glibc.open(path, flags | O_CLOEXEC, mode)
            if fd >= 0 { return File(descriptor: fd, path: path) }
            if errno != EINTR { throw SystemError("open", path: path) }
        }
    }

    public func close() {
        _ = Glibc.close(descriptor)
    }

    /// Reads up to `buffer.count` bytes at `offset`; returns fewer only at end of file.
    public func read(at offset: Int64, into buffer: UnsafeMutableRawBufferPointer) throws(SystemError) -> Int {
        var done = 0
        while done < buffer.count {
            let n = pread(descriptor, buffer.baseAddress! + done, buffer.count - done, off_t(offset) + off_t(done))
            if n > 0 { done += n; continue }
            if n == 0 { break }
            if errno == EINTR { continue }
            throw SystemError("read", path: path)
        }
        return done
    }

    /// Writes all of `buffer` at `offset`.
    public func write(at offset: Int64, from buffer: UnsafeRawBufferPointer) throws(SystemError) {
        var done = 0
        while done < buffer.count {
            let n = pwrite(descriptor, buffer.baseAddress! + done, buffer.count - done, off_t(offset) + off_t(done))
            if n > 0 { done += n; continue }
            if n < 0 && errno == EINTR { continue }
            throw SystemError("write", path: path)
        }
    }

    public func sync() throws(SystemError) {
        if fsync(descriptor) != 0 { throw SystemError("fsync", path: path) }
    }

    /// The size of a regular file (st_size), or of a block device (BLKGETSIZE64).
    public func size() throws(SystemError) -> Int64 {
        var st = stat()
        if fstat(descriptor, &st) != 0 { throw SystemError("stat", path: path) }
        if (st.st_mode & S_IFMT) == S_IFBLK {
            var bytes: UInt64 = 0
            if ioctl(descriptor, FerryIoctl.blkGetSize64, &bytes) != 0 { throw SystemError("ioctl(BLKGETSIZE64)", path: path) }
            return Int64(bytes)
        }
        return Int64(st.st_size)
    }

    public func isBlockDevice() throws(SystemError) -> Bool {
        var st = stat()
        if fstat(descriptor, &st) != 0 { throw SystemError("stat", path: path) }
        return (st.st_mode & S_IFMT) == S_IFBLK
    }
}

/// Linux ioctl request numbers that Glibc's Swift overlay does not export.
public enum FerryIoctl {
    /// `_IOR(0x12, 114, size_t)`: device size in bytes.
    public static let blkGetSize64: UInt = 0x8008_1272
    /// `_IO(0x12, 127)`: zero a byte range `[start, length]` of a block device.
    public static let blkZeroOut: UInt = 0x127F
    /// `_IO(0x12, 104)`: logical sector size (BLKSSZGET).
    public static let blkSectorSize: UInt = 0x1268
    /// `_IO(0x12, 97)`: flush the device's buffer cache (BLKFLSBUF).
    public static let blkFlushBuffers: UInt = 0x1261
}

/// Linux constants that need `_GNU_SOURCE` in C and so are missing from the Glibc overlay.
public enum LinuxConstant {
    public static let seekData: Int32 = 3
    public static let seekHole: Int32 = 4
    public static let fallocKeepSize: Int32 = 0x01
    public static let fallocPunchHole: Int32 = 0x02
}

extension File {
    /// Starts writing `range` back to storage without waiting, so that a final `sync()` has
    /// little left to do. Advisory: failures are ignored.
    public func startWriteback(_ range: Range<Int64>) {
        _ = ferry_start_writeback(descriptor, off_t(range.lowerBound), off_t(range.count))
    }

    /// Deallocates `range` of a regular file (it then reads as zeros) without changing its size.
    public func punchHole(_ range: Range<Int64>) throws(SystemError) {
        if ferry_fallocate(
            descriptor, LinuxConstant.fallocPunchHole | LinuxConstant.fallocKeepSize, off_t(range.lowerBound), off_t(range.count)) != 0
        {
            throw SystemError("fallocate(PUNCH_HOLE)", path: path)
        }
    }
}
