import FerryHTTP
import FerryS3TestSupport
import FerryTestSupport
import Foundation
import Testing

/// TLS against `openssl s_server` with certificates the test makes.
@Suite(.serialized) struct HTTPTLSTests {
    /// Made once for the whole suite.
    static let material: Result<(TemporaryDirectory, TestCertificates), any Error> = Result {
        let directory = try TemporaryDirectory("ferry-tls", removeAtExit: true)
        return (directory, try TestCertificates(in: directory.path))
    }

    let directory: TemporaryDirectory
    let certificates: TestCertificates

    init() throws {
        (directory, certificates) = try Self.material.get()
    }

    @Test func verificationFailsWithoutTheCA() async throws {
        let server = try TLSTestServer(certificates: certificates, directory: directory.path)
        defer { server.stop() }
        let client = try HTTPClient()
        await #expect {
            _ = try await client.send(HTTPRequest(url: server.url))
        } throws: { error in
            guard let error = error as? HTTPError, case .tlsVerificationFailed = error else { return false }
            return !error.isTransient && error.description.contains("--ca-file")
        }
        // Trusting some other CA is no better.
        let other = try HTTPClient(
            configuration: HTTPClientConfiguration(
                tls: HTTPTLSConfiguration(certificateAuthorities: .file(certificates.otherCACertificate))))
        await #expect {
            _ = try await other.send(HTTPRequest(url: server.url))
        } throws: { error in
            guard case .tlsVerificationFailed = error as? HTTPError else { return false }
            return true
        }
    }

    @Test func trustedThroughCAFileOrCAData() async throws {
        let server = try TLSTestServer(certificates: certificates, directory: directory.path)
        defer { server.stop() }
        let byFile = try HTTPClient(
            configuration: HTTPClientConfiguration(tls: HTTPTLSConfiguration(certificateAuthorities: .file(certificates.caCertificate))))
        #expect(try await byFile.send(HTTPRequest(url: server.url)).status == 200)
        let pem = try TestCertificates.contents(certificates.caCertificate)
        let byData = try HTTPClient(configuration: HTTPClientConfiguration(tls: HTTPTLSConfiguration(certificateAuthorities: .data(pem))))
        #expect(try await byData.send(HTTPRequest(url: server.url)).status == 200)
    }

    @Test func skippingVerificationOnlyWhenAsked() async throws {
        let server = try TLSTestServer(certificates: certificates, directory: directory.path)
        defer { server.stop() }
        let insecure = try HTTPClient(configuration: HTTPClientConfiguration(tls: HTTPTLSConfiguration(insecureSkipVerify: true)))
        #expect(try await insecure.send(HTTPRequest(url: server.url)).status == 200)
        #expect(HTTPTLSConfiguration().insecureSkipVerify == false)
    }

    @Test func clientCertificateFromMemoryOrFiles() async throws {
        let server = try TLSTestServer(certificates: certificates, requireClientCertificate: true, directory: directory.path)
        defer { server.stop() }
        let ca = HTTPTLSConfiguration.PEMSource.file(certificates.caCertificate)
        let withoutCertificate = try HTTPClient(
            configuration: HTTPClientConfiguration(tls: HTTPTLSConfiguration(certificateAuthorities: ca)))
        await #expect {
            _ = try await withoutCertificate.send(HTTPRequest(url: server.url))
        } throws: { error in
            guard let error = error as? HTTPError else { return false }
            switch error {
            case .tlsHandshakeFailed, .connectionReset: return true
            default: return false
            }
        }
        let inMemory = try HTTPClient(
            configuration: HTTPClientConfiguration(
                tls: HTTPTLSConfiguration(
                    certificateAuthorities: ca,
                    clientCertificate: .data(try TestCertificates.contents(certificates.clientCertificate)),
                    clientKey: .data(try TestCertificates.contents(certificates.clientKey)))))
        #expect(try await inMemory.send(HTTPRequest(url: server.url)).status == 200)
        let fromFiles = try HTTPClient(
            configuration: HTTPClientConfiguration(
                tls: HTTPTLSConfiguration(
                    certificateAuthorities: ca, clientCertificate: .file(certificates.clientCertificate),
                    clientKey: .file(certificates.clientKey))))
        #expect(try await fromFiles.send(HTTPRequest(url: server.url)).status == 200)
    }

    @Test func unreadableOrBrokenTLSMaterialIsAConfigurationError() async throws {
        #expect(throws: HTTPError.self) {
            _ = try HTTPClient(
                configuration: HTTPClientConfiguration(
                    tls: HTTPTLSConfiguration(certificateAuthorities: .file(directory.file("missing.pem")))))
        }
        let server = try TLSTestServer(certificates: certificates, directory: directory.path)
        defer { server.stop() }
        try directory.write("garbage.pem", "not a certificate\n")
        let broken = try HTTPClient(
            configuration: HTTPClientConfiguration(tls: HTTPTLSConfiguration(certificateAuthorities: .file(directory.file("garbage.pem")))))
        await #expect {
            _ = try await broken.send(HTTPRequest(url: server.url))
        } throws: { error in
            guard let error = error as? HTTPError else { return false }
            switch error {
            case .tlsConfiguration, .tlsVerificationFailed: return true
            default: return false
            }
        }
    }
}
