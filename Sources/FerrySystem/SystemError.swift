#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// A failed system call, with what was being done and to which path, so the message a user sees
/// says what went wrong and where ("open /dev/loop3: Permission denied").
public struct SystemError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The operation that failed ("open", "pread", "fsync", ...).
    public var operation: String
    /// The file or device it was applied to, if any.
    public var path: String?
    /// The `errno` value.
    public var code: Int32

    public init(_ operation: String, path: String? = nil, code: Int32 = errno) {
        self.operation = operation
        self.path = path
        self.code = code
    }

    public var description: String {
        let reason = String(cString: strerror(code))
        if let path { return "\(operation) \(path): \(reason)" }
        return "\(operation): \(reason)"
    }

    public var isNoSpace: Bool { code == ENOSPC || code == EDQUOT }
    public var isNotFound: Bool { code == ENOENT }
    public var isBusy: Bool { code == EBUSY }
    public var isPermission: Bool { code == EACCES || code == EPERM }
}
