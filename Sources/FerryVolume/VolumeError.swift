import FerrySystem

/// Why a volume could not be read or written, in terms a user can act on.
public enum VolumeError: Error, Sendable, CustomStringConvertible {
    /// The source or target could not be opened or accessed.
    case unreadable(path: String, detail: String)
    /// The device is mounted or held open exclusively by someone else; a backup must read a
    /// point-in-time source. `--force` overrides.
    case busy(path: String, detail: String)
    /// The source ended before its recorded size while it was being read.
    case sourceShrank(path: String, expected: Int64, actual: Int64)
    /// A restore target is mounted, held exclusively, or open in a running QEMU: writing the
    /// volume would change data under its user. `--force` overrides.
    case targetInUse(path: String, detail: String)
    /// The source is not something Ferry can read (a directory, a character device, ...).
    case unsupported(path: String, detail: String)
    /// The target is smaller than the volume being restored.
    case targetTooSmall(path: String, needed: Int64, available: Int64)
    /// An I/O error while reading or writing.
    case io(SystemError)

    public var description: String {
        switch self {
        case let .unreadable(path, detail): "cannot open \(path): \(detail)"
        case let .busy(path, detail):
            "\(path) is in use (\(detail)); a backup needs a point-in-time source: snapshot it or stop its user, or pass --force"
        case let .targetInUse(path, detail):
            "\(path) is in use (\(detail)); a restore writes over the whole volume: stop what uses it (unmount it, shut the VM down) "
                + "or restore somewhere else, or pass --force"
        case let .sourceShrank(path, expected, actual):
            "\(path) shrank while it was read: expected \(expected) bytes, it now ends at \(actual)"
        case let .unsupported(path, detail): "\(path): \(detail)"
        case let .targetTooSmall(path, needed, available): "\(path) holds \(available) bytes but the volume needs \(needed)"
        case let .io(error): error.description
        }
    }
}
