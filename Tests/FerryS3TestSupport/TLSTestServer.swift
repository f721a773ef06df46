import FerryTestSupport
import Foundation

/// `openssl s_server -www` on a free port: a real TLS server answering any GET with a status
/// page, optionally demanding a client certificate.
public final class TLSTestServer: @unchecked Sendable {
    public let port: Int
    private let process: ChildProcess

    public init(certificates: TestCertificates, requireClientCertificate: Bool = false, directory: String) throws {
        guard let openssl = ChildProcess.which("openssl") else {
            throw TestServerError.setup("the openssl command is not installed")
        }
        port = try FreePort.find()
        var arguments = [
            "s_server", "-accept", "127.0.0.1:\(port)", "-cert", certificates.serverCertificate,
            "-key", certificates.serverKey, "-www", "-quiet",
        ]
        if requireClientCertificate {
            arguments += ["-Verify", "1", "-CAfile", certificates.caCertificate]
        }
        process = try ChildProcess(executable: openssl, arguments: arguments, log: "\(directory)/s_server-\(port).log")
        try process.waitForPort(port)
    }

    public var url: String { "https://127.0.0.1:\(port)/" }

    public func stop() {
        process.stop()
    }
}
