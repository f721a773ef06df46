import Crypto
import Foundation
import SwiftASN1
import X509

/// A throwaway certificate authority, a server certificate it signs (for localhost, 127.0.0.1
/// and the names given; wildcards allowed, such as `*.s3.test`), a client certificate, and a
/// second CA that signed nothing (trusting only it must fail). Made in memory for each test run,
/// no key material committed; `init(in:)` also writes them as PEM files for servers and clients
/// that read files.
public struct TestCertificates: Sendable {
    public let caPEM: String
    public let otherCAPEM: String
    public let serverCertificatePEM: String
    public let serverKeyPEM: String
    public let clientCertificatePEM: String
    public let clientKeyPEM: String

    /// The files, when written by `init(in:)` (empty otherwise).
    public let caCertificate: String
    public let otherCACertificate: String
    public let serverCertificate: String
    public let serverKey: String
    public let clientCertificate: String
    public let clientKey: String

    /// Everything in memory.
    public static func make(commonName: String = "Ferry test CA", hostNames: [String] = []) throws -> TestCertificates {
        try TestCertificates(commonName: commonName, hostNames: hostNames, directory: nil)
    }

    /// Everything, also written as PEM files under `directory`.
    public init(in directory: String, hostNames: [String] = []) throws {
        try self.init(commonName: "Ferry test CA", hostNames: hostNames, directory: directory)
    }

    private init(commonName: String, hostNames: [String], directory: String?) throws {
        let now = Date()
        func authority(_ name: String) throws -> (Certificate, P256.Signing.PrivateKey, DistinguishedName) {
            let key = P256.Signing.PrivateKey()
            let subject = try DistinguishedName { CommonName(name) }
            let certificate = try Certificate(
                version: .v3, serialNumber: Certificate.SerialNumber(), publicKey: .init(key.publicKey),
                notValidBefore: now - 3600, notValidAfter: now + 2 * 86400, issuer: subject, subject: subject,
                signatureAlgorithm: .ecdsaWithSHA256,
                extensions: try Certificate.Extensions {
                    Critical(BasicConstraints.isCertificateAuthority(maxPathLength: nil))
                    Critical(KeyUsage(keyCertSign: true, cRLSign: true))
                },
                issuerPrivateKey: .init(key))
            return (certificate, key, subject)
        }
        let (ca, caKey, caName) = try authority(commonName)
        let (otherCA, _, _) = try authority("\(commonName) (other)")
        func leaf(_ name: String, usage: ExtendedKeyUsage.Usage, alternativeNames: [GeneralName]?) throws -> (
            Certificate, P256.Signing.PrivateKey
        ) {
            let key = P256.Signing.PrivateKey()
            let certificate = try Certificate(
                version: .v3, serialNumber: Certificate.SerialNumber(), publicKey: .init(key.publicKey),
                notValidBefore: now - 3600, notValidAfter: now + 2 * 86400, issuer: caName,
                subject: try DistinguishedName { CommonName(name) },
                signatureAlgorithm: .ecdsaWithSHA256,
                extensions: try Certificate.Extensions {
                    Critical(BasicConstraints.notCertificateAuthority)
                    Critical(KeyUsage(digitalSignature: true))
                    try ExtendedKeyUsage([usage])
                    if let alternativeNames { SubjectAlternativeNames(alternativeNames) }
                },
                issuerPrivateKey: .init(caKey))
            return (certificate, key)
        }
        let names =
            (["localhost"] + hostNames).map { GeneralName.dnsName($0) } + [.ipAddress(ASN1OctetString(contentBytes: [127, 0, 0, 1]))]
        let (server, serverPrivateKey) = try leaf("localhost", usage: .serverAuth, alternativeNames: names)
        let (client, clientPrivateKey) = try leaf("ferry-test-client", usage: .clientAuth, alternativeNames: nil)

        caPEM = try ca.serializeAsPEM().pemString
        otherCAPEM = try otherCA.serializeAsPEM().pemString
        serverCertificatePEM = try server.serializeAsPEM().pemString
        serverKeyPEM = serverPrivateKey.pemRepresentation
        clientCertificatePEM = try client.serializeAsPEM().pemString
        clientKeyPEM = clientPrivateKey.pemRepresentation

        func write(_ name: String, _ text: String) throws -> String {
            guard let directory else { return "" }
            let path = "\(directory)/\(name)"
            try text.write(toFile: path, atomically: true, encoding: .utf8)
            return path
        }
        caCertificate = try write("ca.pem", caPEM)
        otherCACertificate = try write("other-ca.pem", otherCAPEM)
        serverCertificate = try write("server.pem", serverCertificatePEM)
        serverKey = try write("server.key", serverKeyPEM)
        clientCertificate = try write("client.pem", clientCertificatePEM)
        clientKey = try write("client.key", clientKeyPEM)
    }

    public static func contents(_ path: String) throws -> [UInt8] {
        Array(try Data(contentsOf: URL(fileURLWithPath: path)))
    }
}
