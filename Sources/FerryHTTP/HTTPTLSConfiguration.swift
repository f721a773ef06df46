/// How an `HTTPClient` verifies servers and proves who it is.
///
/// Verification is on by default and uses the system's CA bundle plus any CA given here. It is
/// skipped only when `insecureSkipVerify` is set explicitly.
public struct HTTPTLSConfiguration: Sendable, Hashable {
    /// Where a PEM certificate or key comes from.
    public enum PEMSource: Sendable, Hashable {
        case file(String)
        case data([UInt8])

        public static func pem(_ text: String) -> PEMSource { .data(Array(text.utf8)) }
    }

    /// CA certificates to trust; nil means the system bundle.
    public var certificateAuthorities: PEMSource?
    /// A client certificate for mutual TLS (Kubernetes API servers).
    public var clientCertificate: PEMSource?
    /// The key of `clientCertificate`.
    public var clientKey: PEMSource?
    /// Accept any server certificate and name. Only when a user asks for it explicitly.
    public var insecureSkipVerify: Bool

    public init(
        certificateAuthorities: PEMSource? = nil, clientCertificate: PEMSource? = nil, clientKey: PEMSource? = nil,
        insecureSkipVerify: Bool = false
    ) {
        self.certificateAuthorities = certificateAuthorities
        self.clientCertificate = clientCertificate
        self.clientKey = clientKey
        self.insecureSkipVerify = insecureSkipVerify
    }

    /// Verify against the system CA bundle; no client certificate.
    public static let `default` = HTTPTLSConfiguration()
}
