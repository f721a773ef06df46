import FerrySystem

#if canImport(Glibc)
    import Glibc
#endif

/// Who holds an image file open, as told by the open-file-description byte-range locks QEMU takes
/// on every image it opens (file-posix: one read lock on byte 100 + n for each permission n it
/// holds, and on byte 200 + n for each permission it refuses to share; permission 1 is "write").
public enum QEMULockState: String, Sendable, Equatable, Codable {
    /// No lock: nobody (that locks) has the file open.
    case free
    /// Held, but not for writing (a reader such as `qemu-img info`, or a backing file).
    case reader
    /// Held with write permission: a running QEMU may be changing it.
    case writer
}

/// Tests a file for QEMU's locks with F_OFD_GETLK, which reports conflicting locks of other
/// processes and open file descriptions without taking any.
public enum QEMULockProbe {
    static let permissionBase: Int64 = 100
    static let writePermission: Int64 = 1
    static let lockedRange: Range<Int64> = 100..<300
    /// F_OFD_GETLK (Linux, needs _GNU_SOURCE in C).
    static let ofdGetLock: Int32 = 36

    /// The lock state of the file open as `descriptor`. A filesystem without OFD locks reads as free.
    public static func state(of descriptor: Int32) -> QEMULockState {
        if isLocked(descriptor, range: (permissionBase + writePermission)..<(permissionBase + writePermission + 1)) {
            return .writer
        }
        return isLocked(descriptor, range: lockedRange) ? .reader : .free
    }

    private static func isLocked(_ descriptor: Int32, range: Range<Int64>) -> Bool {
        var lock = flock()
        lock.l_type = Int16(F_WRLCK)
        lock.l_whence = Int16(SEEK_SET)
        lock.l_start = off_t(range.lowerBound)
        lock.l_len = off_t(range.count)
        lock.l_pid = 0
        guard fcntl(descriptor, ofdGetLock, &lock) == 0 else { return false }
        return lock.l_type != Int16(F_UNLCK)
    }
}
