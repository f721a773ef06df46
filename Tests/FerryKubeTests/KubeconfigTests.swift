import FerryKube
import FerryTestSupport
import Foundation
import Testing

@Suite struct KubeconfigTests {
    static let caPEM = "-----BEGIN CERTIFICATE-----\nX\n-----END CERTIFICATE-----\n"
    static let text = """
        apiVersion: v1
        kind: Config
        current-context: dev
        clusters:
        - name: dev-cluster
          cluster:
            server: https://10.0.0.1:6443/
            certificate-authority: certs/ca.pem
        - name: prod-cluster
          cluster:
            server: https://prod.example:443
            certificate-authority-data: \(Data(Self.caPEM.utf8).base64EncodedString())
        users:
        - name: alice
          user:
            token: s3cr3t
        - name: robot
          user:
            client-certificate: /etc/robot/cert.pem
            client-key-data: \(Data("KEY".utf8).base64EncodedString())
        - name: plugin
          user:
            exec:
              apiVersion: client.authentication.k8s.io/v1
              command: ./bin/get-token
              args: [--cluster, prod]
              env: [{name: REGION, value: eu}]
              installHint: install get-token
              provideClusterInfo: true
        contexts:
        - name: dev
          context: {cluster: dev-cluster, user: alice, namespace: team-a}
        - name: prod
          context: {cluster: prod-cluster, user: robot}
        - name: exec
          context: {cluster: prod-cluster, user: plugin}
        - name: broken
          context: {cluster: nowhere, user: alice}
        """

    @Test func resolvesContextsClustersAndUsers() throws {
        let config = try Kubeconfig(yaml: Self.text, directory: "/home/me/.kube", source: "test")
        let dev = try config.configuration()
        #expect(dev.server == "https://10.0.0.1:6443")
        #expect(dev.certificateAuthority == .file("/home/me/.kube/certs/ca.pem"))
        #expect(dev.credentials == .token("s3cr3t"))
        #expect(dev.namespace == "team-a")

        let prod = try config.configuration(context: "prod")
        #expect(prod.namespace == "default")
        #expect(prod.certificateAuthority == .data(Array(Self.caPEM.utf8)))
        #expect(prod.clientCertificate == .file("/etc/robot/cert.pem"))
        #expect(prod.clientKey == .data(Array("KEY".utf8)))

        let exec = try config.configuration(context: "exec")
        guard case .exec(let plugin) = exec.credentials else {
            Issue.record("expected exec credentials")
            return
        }
        #expect(plugin.command == "/home/me/.kube/bin/get-token")
        #expect(plugin.args == ["--cluster", "prod"])
        #expect(plugin.env == ["REGION": "eu"])
        #expect(plugin.provideClusterInfo)
    }

    @Test func namesWhatIsMissing() throws {
        let config = try Kubeconfig(yaml: Self.text, directory: "/", source: "test")
        #expect(throws: KubeError.self) { try config.configuration(context: "nope") }
        do {
            _ = try config.configuration(context: "broken")
            Issue.record("accepted a context naming an unknown cluster")
        } catch {
            #expect(error.description.contains("cluster \"nowhere\""))
        }
    }

    @Test(arguments: [
        "clusters: 5", "users: [{user: {}}]", "- a\n- b", "clusters: [{name: x, cluster: {}}]",
        "users: [{name: u, user: {client-certificate-data: '%%%'}}]", "key: [unclosed",
    ])
    func rejectsMalformedFiles(text: String) {
        #expect(throws: KubeError.self) { try Kubeconfig(yaml: text, directory: "/", source: "bad") }
    }

    @Test func refusesWhatItCannotHonour() throws {
        let text = """
            clusters: [{name: c, cluster: {server: "https://x", proxy-url: "http://proxy:3128"}}]
            users: [{name: u, user: {auth-provider: {name: gcp}}}]
            contexts: [{name: a, context: {cluster: c, user: u}}]
            current-context: a
            """
        let config = try Kubeconfig(yaml: text, directory: "/", source: "t")
        #expect(throws: KubeError.self) { try config.configuration() }
    }

    @Test func mergesKubeconfigListFirstWins() throws {
        let directory = try TemporaryDirectory()
        let first = try directory.write(
            "a",
            """
            current-context: one
            clusters: [{name: c, cluster: {server: "https://first"}}]
            contexts: [{name: one, context: {cluster: c}}]
            """)
        let second = try directory.write(
            "b",
            """
            current-context: two
            clusters: [{name: c, cluster: {server: "https://second"}}, {name: d, cluster: {server: "https://d"}}]
            contexts: [{name: two, context: {cluster: d}}]
            """)
        let merged = try #require(try Kubeconfig.discover(environment: ["KUBECONFIG": "\(first):/does/not/exist:\(second)"]))
        #expect(merged.currentContext == "one")
        #expect(try merged.configuration().server == "https://first")
        #expect(try merged.configuration(context: "two").server == "https://d")
        #expect(try Kubeconfig.discover(environment: ["HOME": directory.path]) == nil)
    }

    @Test func inClusterConfigurationReadsTheServiceAccount() throws {
        let directory = try TemporaryDirectory()
        _ = try directory.write("token", "tok-1\n")
        _ = try directory.write("ca.crt", "CA")
        _ = try directory.write("namespace", "ferry-system\n")
        let config = try InClusterConfig.configuration(
            environment: ["KUBERNETES_SERVICE_HOST": "fd00::1", "KUBERNETES_SERVICE_PORT": "443"], directory: directory.path)
        #expect(config.server == "https://[fd00::1]:443")
        #expect(config.namespace == "ferry-system")
        #expect(config.certificateAuthority == .file("\(directory.path)/ca.crt"))
        #expect(config.credentials == .tokenFile("\(directory.path)/token"))
        #expect(throws: KubeError.self) { try InClusterConfig.configuration(environment: [:], directory: directory.path) }
    }

    @Test func tokenFileIsReReadWhenItRotates() async throws {
        let directory = try TemporaryDirectory()
        let token = try directory.write("token", "first-token")
        let provider = CredentialProvider(
            configuration: KubeClientConfiguration(server: "https://x", credentials: .tokenFile(token)), tokenFileRecheck: 0)
        #expect(try await provider.credentials().authorization == "Bearer first-token")
        // The kubelet replaces the file (new inode, new size) when it rotates the token.
        try "second-token-longer".write(toFile: token + ".new", atomically: false, encoding: .utf8)
        #expect(rename(token + ".new", token) == 0)
        #expect(try await provider.credentials().authorization == "Bearer second-token-longer")
        try FileManager.default.removeItem(atPath: token)
        await provider.invalidate()
        await #expect(throws: KubeError.self) { try await provider.credentials() }
    }
}

@Suite struct ExecCredentialTests {
    func plugin(_ script: String, in directory: TemporaryDirectory) throws -> KubeClientConfiguration {
        // The plugin is /bin/sh with the script as its argument: a script written just now and
        // executed itself can fail with ETXTBSY while a child another test forks at that moment
        // still holds the writer's descriptor.
        let path = try directory.write("plugin.sh", script)
        return KubeClientConfiguration(
            server: "https://api.example",
            credentials: .exec(
                ExecCredentialConfig(
                    apiVersion: "client.authentication.k8s.io/v1", command: "/bin/sh", args: [path], env: ["GREETING": "hi"],
                    provideClusterInfo: true)))
    }

    @Test func runsThePluginAndCachesUntilExpiry() async throws {
        let directory = try TemporaryDirectory()
        let counter = "\(directory.path)/runs"
        let config = try plugin(
            """
            echo run >> \(counter)
            case "$KUBERNETES_EXEC_INFO" in *'"server":"https://api.example"'*) ;; *) echo "no cluster info" >&2; exit 3;; esac
            echo '{"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential",\
            "status":{"token":"'"$GREETING"'-token","expirationTimestamp":"2999-01-01T00:00:00Z"}}'
            """, in: directory)
        let provider = CredentialProvider(configuration: config)
        #expect(try await provider.credentials().authorization == "Bearer hi-token")
        #expect(try await provider.credentials().authorization == "Bearer hi-token")
        #expect(try String(contentsOfFile: counter, encoding: .utf8) == "run\n")
        await provider.invalidate()
        _ = try await provider.credentials()
        #expect(try String(contentsOfFile: counter, encoding: .utf8) == "run\nrun\n")
    }

    @Test func clientCertificatesFromThePlugin() async throws {
        let directory = try TemporaryDirectory()
        let config = try plugin(
            """
            echo '{"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential",\
            "status":{"clientCertificateData":"CERT","clientKeyData":"KEY"}}'
            """, in: directory)
        let credentials = try await CredentialProvider(configuration: config).credentials()
        #expect(credentials.authorization == nil)
        #expect(credentials.clientCertificate == .data(Array("CERT".utf8)))
        #expect(credentials.clientKey == .data(Array("KEY".utf8)))
    }

    @Test(arguments: [
        ("echo 'denied: no SSO session' >&2; exit 7", "exited with status 7: denied: no SSO session"),
        ("echo not json", "not an ExecCredential"),
        (
            #"echo '{"apiVersion":"client.authentication.k8s.io/v1beta1","kind":"ExecCredential","status":{"token":"t"}}'"#,
            "answered apiVersion"
        ),
        (#"echo '{"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential","status":{}}'"#, "neither a token"),
    ])
    func reportsPluginFailures(script: String, message: String) async throws {
        let directory = try TemporaryDirectory()
        let provider = CredentialProvider(configuration: try plugin(script, in: directory))
        do {
            _ = try await provider.credentials()
            Issue.record("plugin failure not reported")
        } catch {
            #expect(error.description.contains(message), "\(error)")
        }
    }

    @Test func missingPluginMentionsTheInstallHint() async {
        let config = KubeClientConfiguration(
            server: "https://x",
            credentials: .exec(
                ExecCredentialConfig(
                    apiVersion: "client.authentication.k8s.io/v1", command: "ferry-no-such-plugin", installHint: "brew install it")))
        do {
            _ = try await CredentialProvider(configuration: config).credentials()
            Issue.record("missing plugin not reported")
        } catch {
            #expect(error.description.contains("ferry-no-such-plugin") && error.description.contains("brew install it"), "\(error)")
        }
    }
}
