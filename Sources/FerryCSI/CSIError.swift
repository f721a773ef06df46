/// Why a CSI SnapshotMetadata call failed, in terms a user can act on. The security token never
/// appears in a message.
public enum CSIError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The endpoint address or CA certificate is unusable.
    case invalidEndpoint(String)
    /// The service answered with an error status.
    case service(code: String, message: String)
    /// The service broke the protocol: ranges out of order, overlapping, outside the volume.
    case invalidResponse(String)
    /// The stream kept failing after resuming `attempts` times.
    case gaveUp(attempts: Int, lastError: String)

    public var description: String {
        switch self {
        case let .invalidEndpoint(detail): "SnapshotMetadata endpoint: \(detail)"
        case let .service(code, message): "SnapshotMetadata service: \(code): \(message)"
        case let .invalidResponse(detail): "SnapshotMetadata service sent an invalid response: \(detail)"
        case let .gaveUp(attempts, lastError): "SnapshotMetadata stream failed \(attempts) times; last error: \(lastError)"
        }
    }
}
