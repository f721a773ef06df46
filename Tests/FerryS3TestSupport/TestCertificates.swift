import Foundation

/// A throwaway certificate authority with a server certificate (for 127.0.0.1, localhost and
/// the names given) and a client certificate, made with the `openssl` command.
public struct TestCertificates: Sendable {
    public let caCertificate: String
    public let serverCertificate: String
    public let serverKey: String
    public let clientCertificate: String
    public let clientKey: String
    /// A second CA that signed nothing the server uses (trusting only it must fail).
    public let otherCACertificate: String

    /// Creates everything under `directory`. `hostNames` become DNS names in the server's
    /// certificate (wildcards allowed, such as `*.s3.test`).
    public init(in directory: String, hostNames: [String] = []) throws {
        guard let openssl = ChildProcess.which("openssl") else {
            throw TestServerError.setup("the openssl command is not installed")
        }
        func path(_ name: String) -> String { "\(directory)/\(name)" }
        func run(_ arguments: [String]) throws { try ChildProcess.run(openssl, arguments, in: directory) }

        for ca in ["ca", "other-ca"] {
            try run([
                "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "2", "-subj", "/CN=Ferry Test \(ca)",
                "-keyout", path("\(ca).key"), "-out", path("\(ca).pem"),
                "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign",
            ])
        }
        let names = ["localhost"] + hostNames
        let san = (names.map { "DNS:\($0)" } + ["IP:127.0.0.1"]).joined(separator: ",")
        try "subjectAltName=\(san)\nextendedKeyUsage=serverAuth\n".write(toFile: path("server.ext"), atomically: true, encoding: .utf8)
        try "extendedKeyUsage=clientAuth\n".write(toFile: path("client.ext"), atomically: true, encoding: .utf8)
        for (name, ext, subject) in [("server", "server.ext", "/CN=localhost"), ("client", "client.ext", "/CN=ferry-test-client")] {
            try run(["req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-subj", subject, "-keyout", path("\(name).key"), "-out", path("\(name).csr")])
            try run([
                "x509", "-req", "-in", path("\(name).csr"), "-CA", path("ca.pem"), "-CAkey", path("ca.key"),
                "-CAcreateserial", "-days", "2", "-extfile", path(ext), "-out", path("\(name).pem"),
            ])
        }
        caCertificate = path("ca.pem")
        otherCACertificate = path("other-ca.pem")
        serverCertificate = path("server.pem")
        serverKey = path("server.key")
        clientCertificate = path("client.pem")
        clientKey = path("client.key")
    }

    public static func contents(_ path: String) throws -> [UInt8] {
        Array(try Data(contentsOf: URL(fileURLWithPath: path)))
    }
}

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
        process = try ChildProcess(executable: openssl, arguments: arguments, logPath: "\(directory)/s_server-\(port).log")
        try process.waitForPort(port)
    }

    public var url: String { "https://127.0.0.1:\(port)/" }

    public func stop() {
        process.stop()
    }
}
