import Foundation

/// Where a CSI SnapshotMetadata service listens and how to trust it: the `address` and `caCert`
/// of a `SnapshotMetadataService` custom resource (cbt.storage.k8s.io). TLS with server
/// certificate verification is always on unless plaintext is asked for explicitly.
public struct SnapshotMetadataEndpoint: Sendable, Equatable {
    public var host: String
    public var port: Int
    /// PEM CA certificate(s) that sign the service's certificate; nil trusts the system roots.
    public var caCertificatePEM: [UInt8]?
    /// Unencrypted HTTP/2, for a service reached through a local proxy. Never the default.
    public var plaintext: Bool

    public init(host: String, port: Int, caCertificatePEM: [UInt8]? = nil, plaintext: Bool = false) {
        self.host = host
        self.port = port
        self.caCertificatePEM = caCertificatePEM
        self.plaintext = plaintext
    }

    /// From a SnapshotMetadataService's `spec.address` ("host:port") and `spec.caCert` (base64 PEM).
    public init(address: String, caCertBase64: String?) throws(CSIError) {
        guard let colon = address.lastIndex(of: ":"), let port = Int(address[address.index(after: colon)...]),
            (1...65535).contains(port), colon > address.startIndex
        else {
            throw .invalidEndpoint("address \"\(address)\" is not host:port")
        }
        var host = String(address[..<colon])
        if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        var pem: [UInt8]?
        if let caCertBase64 {
            guard let data = Data(base64Encoded: caCertBase64, options: .ignoreUnknownCharacters),
                String(decoding: data, as: UTF8.self).contains("-----BEGIN CERTIFICATE-----")
            else {
                throw .invalidEndpoint("caCert is not a base64-encoded PEM certificate")
            }
            pem = [UInt8](data)
        }
        self.init(host: host, port: port, caCertificatePEM: pem)
    }
}
