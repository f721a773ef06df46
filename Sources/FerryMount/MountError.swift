import Foundation

/// Why a snapshot could not be mounted or served, with what to do about it.
public enum MountError: Error, Sendable, CustomStringConvertible {
    /// The FUSE device is missing: the kernel module is not loaded or a container lacks the device.
    case deviceMissing(path: String)
    /// The FUSE device exists but may not be opened by this process.
    case devicePermission(path: String, detail: String)
    /// The device could be opened but is not the FUSE device, or the kernel refused the mount.
    case mountFailed(mountpoint: String, detail: String)
    /// The mount point is not an empty directory (or does not exist).
    case badMountpoint(path: String, detail: String)
    /// The snapshot (or volume) asked for is not there.
    case notFound(String)
    /// libfuse could not create its session.
    case session(String)
    /// The NBD server could not listen.
    case listen(String)

    public var description: String {
        switch self {
        case let .deviceMissing(path):
            "FUSE is not available: \(path) does not exist (load the kernel module with `modprobe fuse`; "
                + "in a container, pass the device in, e.g. --device /dev/fuse)"
        case let .devicePermission(path, detail):
            "FUSE is not available: cannot open \(path): \(detail) (run as root, or in a container grant the device and CAP_SYS_ADMIN)"
        case let .mountFailed(mountpoint, detail):
            "cannot mount at \(mountpoint): \(detail)"
        case let .badMountpoint(path, detail):
            "cannot mount at \(path): \(detail)"
        case let .notFound(text):
            text
        case let .session(text):
            "cannot start the FUSE session: \(text)"
        case let .listen(text):
            text
        }
    }
}
