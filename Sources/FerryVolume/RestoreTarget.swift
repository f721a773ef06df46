import FerrySystem

#if canImport(Glibc)
    import Glibc
#endif

/// Where a restore writes a volume: a regular file (created sparse when absent) or a block
/// device. Writes may come from several threads at once, at different offsets.
///
/// Blocks of zeros are not written: a new file already reads as zeros; an existing file gets
/// holes punched (`fallocate` PUNCH_HOLE); a device is zeroed with BLKZEROOUT (or plain writes
/// of zeros where the device does not support it), so the result is byte-identical to the source.
public struct RestoreTarget: Sendable {
    public let path: String
    public let isBlockDevice: Bool
    /// True when the file did not exist before the restore (so it already reads as zeros).
    public let isNewFile: Bool
    private let file: File

    /// Opens or creates the target for a volume of `size` bytes. A device that is mounted or
    /// held exclusively, or an image a running QEMU has open (its byte-range locks), is refused
    /// unless `force` is set; a device smaller than `size` is refused.
    public init(path: String, size: Int64, force: Bool = false) throws {
        self.path = path
        var st = stat()
        let exists = stat(path, &st) == 0
        if !exists && errno != ENOENT {
            throw VolumeError.unreadable(path: path, detail: String(cString: strerror(errno)))
        }
        let type = exists ? st.st_mode & S_IFMT : S_IFREG
        guard type == S_IFREG || type == S_IFBLK else {
            throw VolumeError.unsupported(path: path, detail: "a restore target must be a regular file or a block device")
        }
        isBlockDevice = type == S_IFBLK
        isNewFile = !exists
        var flags = O_RDWR
        if !exists { flags |= O_CREAT | O_EXCL }
        if isBlockDevice && !force { flags |= O_EXCL }
        do {
            file = try File.open(path, flags: flags, mode: 0o600)
        } catch {
            if error.isBusy { throw VolumeError.targetInUse(path: path, detail: "mounted or opened exclusively by another process") }
            throw VolumeError.unreadable(path: path, detail: String(cString: strerror(error.code)))
        }
        if exists && !isBlockDevice && !force {
            let holder = QEMULockProbe.state(of: file.descriptor)
            guard holder == .free else {
                file.close()
                throw VolumeError.targetInUse(path: path, detail: "a running QEMU has it open\(holder == .writer ? " for writing" : "")")
            }
        }
        do {
            if isBlockDevice {
                let available = try file.size()
                if available < size {
                    file.close()
                    throw VolumeError.targetTooSmall(path: path, needed: size, available: available)
                }
            } else if ftruncate(file.descriptor, off_t(size)) != 0 {
                throw VolumeError.io(SystemError("truncate", path: path))
            }
        } catch let error as SystemError {
            file.close()
            throw VolumeError.io(error)
        }
    }

    /// Writes `bytes` at `offset` and starts their writeback, so the flush at the end of a
    /// restore overlaps with the rest of it instead of following it.
    public func write(at offset: Int64, _ bytes: UnsafeRawBufferPointer) throws {
        do { try file.write(at: offset, from: bytes) } catch { throw VolumeError.io(error) }
        file.startWriteback(offset..<offset + Int64(bytes.count))
    }

    /// Makes `range` read as zeros.
    public func zero(_ range: Range<Int64>) throws {
        guard !range.isEmpty, !isNewFile else { return }
        if isBlockDevice {
            var span: (UInt64, UInt64) = (UInt64(range.lowerBound), UInt64(range.count))
            if ioctl(file.descriptor, FerryIoctl.blkZeroOut, &span) == 0 { return }
        } else if (try? file.punchHole(range)) != nil {
            return
        }
        try writeZeros(range)
    }

    private func writeZeros(_ range: Range<Int64>) throws {
        let zeros = [UInt8](repeating: 0, count: min(range.count, 1 << 20))
        var offset = range.lowerBound
        try zeros.withUnsafeBytes { buffer in
            while offset < range.upperBound {
                let n = Int(min(Int64(buffer.count), range.upperBound - offset))
                try write(at: offset, UnsafeRawBufferPointer(rebasing: buffer[..<n]))
                offset += Int64(n)
            }
        }
    }

    /// Flushes everything written to stable storage and closes the target.
    public func finish() throws {
        defer { file.close() }
        do { try file.sync() } catch { throw VolumeError.io(error) }
    }

    /// Closes without flushing (after a failure).
    public func abandon() {
        file.close()
    }
}
