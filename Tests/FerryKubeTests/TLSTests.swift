import FerryKube
import FerryKubeTestServer
import FerryS3TestSupport
import FerryTestSupport
import Foundation
import Testing

/// The client's TLS settings against a real TLS server (`openssl s_server -www`). That server
/// answers with an HTML status page, so "TLS worked" shows as an invalid-response error, and
/// "TLS failed" as a `.tls` error.
@Suite(.serialized) struct TLSTests {
    func kubeconfig(_ directory: TemporaryDirectory, server: String, cluster: String, user: String = "{}") throws -> KubeClientConfiguration
    {
        let text = """
            clusters: [{name: c, cluster: \(cluster.replacingOccurrences(of: "SERVER", with: server))}]
            users: [{name: u, user: \(user)}]
            contexts: [{name: x, context: {cluster: c, user: u}}]
            current-context: x
            """
        var configuration = try Kubeconfig(yaml: text, directory: directory.path, source: "test").configuration()
        configuration.maxRetries = 0
        return configuration
    }

    func outcome(_ configuration: KubeClientConfiguration) async -> KubeError? {
        do {
            _ = try await KubeClient(configuration: configuration).serverVersion()
            return nil
        } catch {
            return error
        }
    }

    @Test func verifiesTheServerAgainstTheKubeconfigCA() async throws {
        let directory = try TemporaryDirectory()
        let path = directory.path
        let certificates = try await ExternalTool.offPool { try TestCertificates(in: path) }
        let server = try await ExternalTool.offPool { try TLSTestServer(certificates: certificates, directory: path) }
        defer { server.stop() }
        let url = "https://127.0.0.1:\(server.port)"

        let trusted = try kubeconfig(
            directory, server: url, cluster: "{server: SERVER, certificate-authority: \(certificates.caCertificate)}")
        guard case .invalidResponse? = await outcome(trusted) else {
            Issue.record("TLS with the right CA file did not get through")
            return
        }
        let inline = Data(try TestCertificates.contents(certificates.caCertificate)).base64EncodedString()
        let trustedInline = try kubeconfig(directory, server: url, cluster: "{server: SERVER, certificate-authority-data: \(inline)}")
        guard case .invalidResponse? = await outcome(trustedInline) else {
            Issue.record("TLS with the right inline CA did not get through")
            return
        }

        let wrong = try kubeconfig(
            directory, server: url, cluster: "{server: SERVER, certificate-authority: \(certificates.otherCACertificate)}")
        guard case .tls(let host, let reason)? = await outcome(wrong) else {
            Issue.record("a server signed by another CA was trusted")
            return
        }
        #expect(host == url && !reason.isEmpty)
        #expect(KubeError.tls(server: host, reason: reason).description.contains("certificate-authority"))

        let insecure = try kubeconfig(directory, server: url, cluster: "{server: SERVER, insecure-skip-tls-verify: true}")
        guard case .invalidResponse? = await outcome(insecure) else {
            Issue.record("insecure-skip-tls-verify did not skip verification")
            return
        }
        let missingFile = try kubeconfig(directory, server: url, cluster: "{server: SERVER, certificate-authority: /nonexistent/ca.pem}")
        guard case .tls(_, let missingReason)? = await outcome(missingFile) else {
            Issue.record("a missing CA file was not reported")
            return
        }
        #expect(missingReason.contains("/nonexistent/ca.pem"))
    }

    @Test func presentsTheClientCertificate() async throws {
        let directory = try TemporaryDirectory()
        let path = directory.path
        let certificates = try await ExternalTool.offPool { try TestCertificates(in: path) }
        let server = try await ExternalTool.offPool {
            try TLSTestServer(certificates: certificates, requireClientCertificate: true, directory: path)
        }
        defer { server.stop() }
        let url = "https://127.0.0.1:\(server.port)"
        let cluster = "{server: SERVER, certificate-authority: \(certificates.caCertificate)}"
        let anonymous = try kubeconfig(directory, server: url, cluster: cluster)
        guard case .tls? = await outcome(anonymous) else {
            Issue.record("a server demanding a client certificate accepted none: \(String(describing: await outcome(anonymous)))")
            return
        }
        // An exec plugin can hand out the client certificate instead of the kubeconfig.
        let plugin = try directory.write(
            "cert-plugin.sh",
            """
            #!/bin/sh
            exec python3 -c 'import json; print(json.dumps({"apiVersion": "client.authentication.k8s.io/v1", "kind": "ExecCredential", \
            "status": {"clientCertificateData": open("\(certificates.clientCertificate)").read(), \
            "clientKeyData": open("\(certificates.clientKey)").read()}}))'
            """)
        // Run by /bin/sh: a script written just now and executed itself can fail with ETXTBSY.
        let viaPlugin = try kubeconfig(
            directory, server: url, cluster: cluster,
            user: "{exec: {apiVersion: client.authentication.k8s.io/v1, command: /bin/sh, args: [\(plugin)]}}")
        guard case .invalidResponse? = await outcome(viaPlugin) else {
            Issue.record("the exec plugin's client certificate was not presented: \(String(describing: await outcome(viaPlugin)))")
            return
        }
        let user = "{client-certificate: \(certificates.clientCertificate), client-key: \(certificates.clientKey)}"
        let authenticated = try kubeconfig(directory, server: url, cluster: cluster, user: user)
        guard case .invalidResponse? = await outcome(authenticated) else {
            Issue.record("the client certificate was not presented: \(String(describing: await outcome(authenticated)))")
            return
        }
    }
}
