import FerryKube
import FerryKubeTestServer
import FerryKubeTestSupport
import Foundation
import Testing

/// pods/exec as kube-apiserver serves it (the remotecommand WebSocket protocol, v5/v4
/// channel.k8s.io), with the command run in the sandbox standing for the container: through
/// Ferry's PodExec client and through the real `kubectl exec`.
@Suite struct ExecTests {
    static let pods = """
        apiVersion: v1
        kind: Namespace
        metadata: {name: shop}
        ---
        apiVersion: v1
        kind: Pod
        metadata: {name: db-0, namespace: shop, labels: {app: db}}
        spec:
          nodeName: node-1
          containers:
          - name: db
            image: postgres
            env: [{name: GREETING, value: hello}, {name: FROM_SECRET, valueFrom: {secretKeyRef: {name: s, key: k}}}]
          - {name: sidecar, image: busybox}
        status: {phase: Running}
        ---
        apiVersion: v1
        kind: Pod
        metadata: {name: pending, namespace: shop}
        spec:
          containers: [{name: app, image: busybox}]
        ---
        apiVersion: v1
        kind: Pod
        metadata: {name: starting, namespace: shop}
        spec:
          nodeName: node-1
          containers: [{name: app, image: busybox}]
        status: {phase: Pending}
        """

    /// A client over TLS, verified with the server's CA, as the admin or `token`.
    static func secureClient(_ server: KubeTestServer, token: String? = nil) -> KubeClient {
        var configuration = server.clientConfiguration(token: token)
        configuration.server = server.secureURL
        configuration.certificateAuthority = .data(Array(server.certificateAuthorityPEM.utf8))
        return KubeClient(configuration: configuration)
    }

    @Test func theCommandRunsInTheContainersSandboxWithItsOutputAndExitCode() async throws {
        try await withServer { server, client in
            try await server.load(yaml: Self.pods)
            let exec = PodExec(client: Self.secureClient(server))
            let result = try await exec.run(
                namespace: "shop", pod: "db-0", container: "db",
                command: ["sh", "-c", "echo $GREETING $HOSTNAME; pwd; echo oops >&2; echo marker > here; exit 3"], timeout: .seconds(90))
            let directory = server.execDirectory(namespace: "shop", pod: "db-0", container: "db")
            #expect(String(decoding: result.stdout, as: UTF8.self) == "hello db-0\n\(directory)\n")
            #expect(String(decoding: result.stderr, as: UTF8.self) == "oops\n")
            #expect(result.exitCode == 3)
            #expect(result.message?.hasPrefix("command terminated with non-zero exit code") == true, "\(result.message ?? "")")
            #expect(FileManager.default.fileExists(atPath: "\(directory)/here"), "the sandbox directory is the working directory")

            // Success, over plain HTTP too; the variable from a Secret is not set (literals only).
            let plain = try await PodExec(client: client).run(
                namespace: "shop", pod: "db-0", container: "db", command: ["sh", "-c", "cat here; echo ${FROM_SECRET:-unset}"],
                timeout: .seconds(90))
            #expect(plain.exitCode == 0 && plain.message == nil)
            #expect(String(decoding: plain.stdout, as: UTF8.self) == "marker\nunset\n")

            // Standard input is sent and closed (v5's close signal).
            let echoed = try await exec.run(
                namespace: "shop", pod: "db-0", container: "sidecar", command: ["cat"], stdin: Array("from stdin".utf8),
                timeout: .seconds(90))
            #expect(String(decoding: echoed.stdout, as: UTF8.self) == "from stdin" && echoed.exitCode == 0)

            // Output beyond the limit is cut; a missing program is the runtime's error.
            let long = try await exec.run(
                namespace: "shop", pod: "db-0", container: "db", command: ["sh", "-c", "head -c 5000 /dev/zero | tr '\\0' x"],
                timeout: .seconds(90), outputLimit: 100)
            #expect(long.stdout.count == 100 && long.stdoutTruncated)
            let missing = try await exec.run(
                namespace: "shop", pod: "db-0", container: "db", command: ["no-such-program"], timeout: .seconds(90))
            #expect(missing.exitCode == 127)
            #expect(missing.message?.contains("executable file not found in $PATH") == true, "\(missing.message ?? "")")

            let requests = await server.requests().filter { $0.path.hasSuffix("/exec") }
            #expect(requests.allSatisfy { $0.method == "GET" && $0.status == 101 }, "\(requests.map(\.status))")
        }
    }

    @Test func aCommandOutlivingTheTimeoutIsStoppedAndReported() async throws {
        var options = KubeTestServer.Options()
        options.execTimeout = .seconds(300)
        try await withServer(options: options) { server, _ in
            try await server.load(yaml: Self.pods)
            let exec = PodExec(client: Self.secureClient(server))
            let started = ContinuousClock.now
            await #expect {
                _ = try await exec.run(
                    namespace: "shop", pod: "db-0", container: "db", command: ["sh", "-c", "echo begun; exec sleep 600"],
                    timeout: .seconds(45))
            } throws: { error in
                guard case .timedOut(let partial) = error as? PodExecError else { return false }
                #expect(String(decoding: partial.stdout, as: UTF8.self) == "begun\n")
                return true
            }
            // Ended by the client's timeout, not by the command (600 s) or the server's (300 s).
            #expect(ContinuousClock.now - started < .seconds(290))
        }
    }

    @Test func refusalsAreTheAPIServersErrors() async throws {
        try await withServer { server, client in
            try await server.load(yaml: Self.pods)
            let admin = client
            func refusal(_ pod: String, _ container: String?, client: KubeClient? = nil) async -> APIStatus? {
                do {
                    _ = try await PodExec(client: client ?? admin).run(
                        namespace: "shop", pod: pod, container: container, command: ["true"], timeout: .seconds(90))
                    return nil
                } catch {
                    guard case .api(let kube) = error else { return nil }
                    return kube.status
                }
            }
            let wrong = await refusal("db-0", "nope")
            #expect(wrong?.code == 400 && wrong?.message == "container nope is not valid for pod db-0")
            let ambiguous = await refusal("db-0", nil)
            #expect(wrong?.code == 400)
            #expect(ambiguous?.message == "a container name must be specified for pod db-0, choose one of: [db sidecar]")
            #expect(await refusal("gone", "db")?.message == #"pods "gone" not found"#)
            #expect(await refusal("pending", nil)?.message == "pod pending does not have a host assigned")
            let starting = await refusal("starting", nil)
            #expect(starting?.code == 500 && starting?.message == #"unable to upgrade connection: container not found ("app")"#)

            // RBAC: reading pods (get on pods/exec included) is not enough, exec needs create.
            let token = try await serviceAccount(server, "robot", in: "shop")
            try await server.load(
                yaml: """
                    apiVersion: rbac.authorization.k8s.io/v1
                    kind: Role
                    metadata: {name: reader, namespace: shop}
                    rules: [{apiGroups: [""], resources: [pods, pods/exec], verbs: [get, list]}]
                    ---
                    apiVersion: rbac.authorization.k8s.io/v1
                    kind: RoleBinding
                    metadata: {name: reader, namespace: shop}
                    roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: reader}
                    subjects: [{kind: ServiceAccount, name: robot, namespace: shop}]
                    """)
            let robot = KubeClient(configuration: server.clientConfiguration(token: token))
            let denied = await refusal("db-0", "db", client: robot)
            #expect(denied?.code == 403)
            #expect(
                denied?.message
                    == #"pods "db-0" is forbidden: User "system:serviceaccount:shop:robot" cannot create resource "pods/exec" "#
                    + #"in API group "" in the namespace "shop""#
            )
            try await server.load(
                yaml: """
                    apiVersion: rbac.authorization.k8s.io/v1
                    kind: Role
                    metadata: {name: exec, namespace: shop}
                    rules: [{apiGroups: [""], resources: [pods/exec], verbs: [create]}]
                    ---
                    apiVersion: rbac.authorization.k8s.io/v1
                    kind: RoleBinding
                    metadata: {name: exec, namespace: shop}
                    roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: exec}
                    subjects: [{kind: ServiceAccount, name: robot, namespace: shop}]
                    """)
            let allowed = try await PodExec(client: robot).run(
                namespace: "shop", pod: "db-0", container: "db", command: ["true"], timeout: .seconds(90))
            #expect(allowed.exitCode == 0)

            // A plain GET (no upgrade) is refused as kube-apiserver refuses it.
            let (status, body) = await raw(
                client, "GET", "/api/v1/namespaces/shop/pods/db-0/exec",
                query: [("command", "true"), ("container", "db"), ("stdout", "true")])
            #expect(status == 400 && body?["message"] == "Upgrade request required", "\(body?.serializedString() ?? "")")
        }
    }

    /// The real kubectl 1.33 (`kubectl exec`, on WebSocket) against the server.
    @Test func kubectlExecWorksAgainstTheServer() async throws {
        try await withKubeTestCluster { cluster in
            try await cluster.server.load(yaml: Self.pods)
            let ok = try await cluster.kubectl(["exec", "-n", "shop", "db-0", "-c", "db", "--", "sh", "-c", "echo $GREETING; echo err >&2"])
            #expect(ok.status == 0, "\(ok.output)")
            #expect(ok.output.contains("hello") && ok.output.contains("err"), "\(ok.output)")
            let failed = try await cluster.kubectl(["exec", "-n", "shop", "db-0", "-c", "db", "--", "sh", "-c", "exit 7"])
            #expect(failed.status == 7, "\(failed.output)")
            #expect(failed.output.contains("command terminated with exit code 7"), "\(failed.output)")
            let wrong = try await cluster.kubectl(["exec", "-n", "shop", "db-0", "-c", "nope", "--", "true"])
            #expect(wrong.status != 0 && wrong.output.contains("container nope is not valid for pod db-0"), "\(wrong.output)")
            let requests = await cluster.server.requests().filter { $0.path.hasSuffix("/exec") }.map { "\($0.method) \($0.status)" }
            #expect(requests.prefix(2) == ["GET 101", "GET 101"], "kubectl used the WebSocket: \(requests)")
        }
    }
}
