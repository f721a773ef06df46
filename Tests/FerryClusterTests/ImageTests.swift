import FerryKube
import FerryKubeTestServer
import FerryKubeTestSupport
import FerryS3TestSupport
import FerryTestSupport
import Foundation
import Testing

/// The Ferry image (scripts/image.sh) run by podman as the chart runs it: `ferry` as the image's
/// non-root user on a read-only root file system; the coordinator's container reaching the API
/// test server (in-cluster configuration: a service account token, the API address) and
/// SeaweedFS on loopback; the agent's container, privileged with the node's /dev and kubelet
/// directory, backing up a loop device and restoring it. Every container runs with
/// `--network host` (servers on 127.0.0.1 only) or `--network none`.
@Suite(.serialized, .timeLimit(.minutes(10))) struct ImageTests {
    /// The image's podman, or a skip (outside CI) or failure (in CI) saying what is missing.
    func podman() throws -> Podman {
        try TestEnvironment.require(Podman.unavailableReason == nil, Podman.unavailableReason ?? "")
        return try Podman.shared()
    }

    /// A container name unique to this run.
    func name(_ role: String) -> String { "ferry-test-\(role)-\(UUID().uuidString.prefix(8).lowercased())" }

    @Test func theImageRunsFerryAsItsNonRootUserOnAReadOnlyRootFileSystem() async throws {
        let podman = try podman()
        let isolated = ["--read-only", "--read-only-tmpfs=false", "--network", "none"]
        let version = try await podman.runContainer(isolated, ["--version"])
        #expect(version.status == 0, "\(version.output)")
        #expect(version.output.trimmingCharacters(in: .whitespacesAndNewlines) == Podman.appVersion, "\(version.output)")
        let user = try await podman.run(["image", "inspect", "--format", "{{.Config.User}}", podman.image])
        #expect(user.trimmingCharacters(in: .whitespacesAndNewlines) == "65532:65532")

        // The user the kernel sees, of `ferry pause` (what the CSI exposer pods run).
        let pause = try await podman.start(name: name("pause"), isolated, ["pause"])
        do {
            let pid = try await pause.inspect("{{.State.Pid}}")
            let status = try String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)
            let ids = status.split(separator: "\n").filter { $0.hasPrefix("Uid:") || $0.hasPrefix("Gid:") }
                .map { $0.split(whereSeparator: \.isWhitespace).dropFirst().map(String.init) }
            #expect(ids == [Array(repeating: "65532", count: 4), Array(repeating: "65532", count: 4)], "\(ids)")
            let running = try await pause.inspect("{{.State.Running}}")
            let logs = running == "true" ? "" : await pause.logs()
            #expect(running == "true", "ferry pause stopped: \(logs)")
            // As a pod's first process it ends on SIGTERM (the kernel ignores signals that the
            // first process of a PID namespace does not handle): no waiting for the grace period.
            let clock = ContinuousClock()
            let stopping = clock.now
            try await podman.run(["stop", "--time", "20", pause.name])
            #expect(clock.now - stopping < .seconds(10), "ferry pause took \(clock.now - stopping) to end on SIGTERM")
            #expect(try await pause.inspect("{{.State.ExitCode}}") == "0")
        } catch {
            await pause.remove()
            throw error
        }
        await pause.remove()

        // Nothing but ferry and its libraries: no shell to run.
        let shell = try await podman.runContainer(isolated + ["--entrypoint", "/bin/sh"], ["-c", "true"])
        #expect(shell.status != 0, "the image has a shell: \(shell.output)")
    }

    /// The coordinator's container as the chart's Deployment runs it (user 65532, read-only
    /// root, no capabilities), configured as in a pod: it backs up the objects of a plan into an
    /// S3 Target on SeaweedFS, and serves /healthz.
    @Test func theCoordinatorContainerBacksUpToS3ThroughTheAPIServer() async throws {
        let podman = try podman()
        try TestEnvironment.require(SeaweedFS.isAvailable, SeaweedFS.unavailableReason ?? "SeaweedFS is not installed")
        let s3 = try SeaweedFS.shared()
        try await withKubeTestCluster { cluster in
            let setup = try await CoordinatorTests.Setup.make(cluster)
            try await cluster.server.load(
                yaml: """
                    apiVersion: v1
                    kind: Namespace
                    metadata: {name: web}
                    ---
                    apiVersion: v1
                    kind: ConfigMap
                    metadata: {name: settings, namespace: web, labels: {app: web}}
                    data: {a: b}
                    ---
                    apiVersion: ferry.dev/v1alpha1
                    kind: BackupPlan
                    metadata: {name: web, namespace: web}
                    spec: {target: s3, components: {labelSelector: {matchLabels: {app: web}}}}
                    """)
            try await s3Target(cluster, s3, namespace: "web")
            let metrics = try LoopbackPort.free()
            let coordinator = try await startCoordinator(podman, setup, ["--metrics-address=127.0.0.1:\(metrics)"])
            do {
                let backup = try await whileRunning([coordinator]) { try await setup.backup("web-1", plan: "web", namespace: "web") }
                let logs = backup["status"]?["phase"] == "Completed" ? "" : await coordinator.logs()
                #expect(backup["status"]?["phase"] == "Completed", "\(backup.json.serializedString())\n\(logs)")
                let target = try await whileRunning([coordinator]) { try await checked(cluster, namespace: "web", name: "s3") }
                #expect(target["status"]?["phase"] == "Ready", "\(target.json.serializedString())")
                #expect(target["status"]?["repositoryID"]?.stringValue?.isEmpty == false)
                let health = try ChildProcess.run([
                    "curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "--max-time", "5",
                    "http://127.0.0.1:\(metrics)/healthz",
                ])
                #expect(health == "200", "/healthz answered \(health)")
            } catch {
                await coordinator.remove()
                throw error
            }
            await coordinator.remove()
        }
    }

    /// The agent's container as the chart's DaemonSet runs it (root, privileged, the node's /dev
    /// at /host/dev, the kubelet's directory at /host/var/lib/kubelet), with the coordinator's:
    /// a Backup stores a block-mode local volume on a loop device into S3; the device is then
    /// overwritten, and a Restore writes the backup back, byte for byte.
    @Test func theAgentContainerBacksUpAndRestoresALoopDevice() async throws {
        let podman = try podman()
        try TestEnvironment.require(SeaweedFS.isAvailable, SeaweedFS.unavailableReason ?? "SeaweedFS is not installed")
        try TestEnvironment.requireRoot("loop devices")
        try TestEnvironment.requireTool("losetup")
        let s3 = try SeaweedFS.shared()
        try await withKubeTestCluster { cluster in
            let tests = AgentTests()
            let setup = try await CoordinatorTests.Setup.make(cluster)
            let backing = "\(cluster.directory)/pv-data.img"
            let original = try tests.writeDevice(backing, seed: 131)
            let loop = try LoopDevice(backing: backing)
            defer { loop.detach() }
            // The application's volume is the loop device; its Target is S3 instead of a path.
            try await tests.install(setup, device: loop.path)
            await cluster.server.delete(apiVersion: "ferry.dev/v1alpha1", kind: "Target", namespace: "db", name: "local")
            try await s3Target(cluster, s3, namespace: "db", name: "local")
            let kubelet = try kubeletDirectory(cluster, device: loop.path)

            let coordinator = try await startCoordinator(podman, setup, ["--unit-lease=3"])
            let agent: Podman.Container
            do {
                agent = try await startAgent(podman, setup, kubelet: kubelet, ["--heartbeat=1"])
            } catch {
                await coordinator.remove()
                throw error
            }
            do {
                let backup = try await whileRunning([coordinator, agent]) { try await setup.backup("db-1", plan: "db", namespace: "db") }
                let logs = backup["status"]?["phase"] == "Completed" ? "" : await agent.logs() + "\n" + coordinator.logs()
                #expect(backup["status"]?["phase"] == "Completed", "\(backup.json.serializedString())\n\(logs)")
                let volume = backup["status"]?["volumes"]?[0]
                #expect(volume?["claim"] == "db/data" && volume?["phase"] == "Succeeded")
                let unit = await cluster.server.object(
                    apiVersion: "ferry.dev/v1alpha1", kind: "VolumeTransfer",
                    namespace: "db", name: "db-1-0")
                #expect(unit?["spec"]?["source"]?["path"]?.stringValue == loop.path)
                #expect(unit?["status"]?["phase"] == "Succeeded", "\(unit?.json.serializedString() ?? "")")

                // The volume's data is lost, the claim and pod deleted: a Restore brings them back.
                var garbage = DeterministicBytes(seed: 667)
                try tests.write(Data(garbage.bytes(8 << 20)), at: 0, to: loop.path)
                #expect(try tests.contents(loop.path) != original)
                await cluster.server.delete(apiVersion: "v1", kind: "Pod", namespace: "db", name: "db-0")
                await cluster.server.delete(apiVersion: "v1", kind: "PersistentVolumeClaim", namespace: "db", name: "data")
                try await cluster.server.load(
                    yaml: """
                        apiVersion: ferry.dev/v1alpha1
                        kind: Restore
                        metadata: {name: back, namespace: db}
                        spec: {backup: db-1}
                        """)
                let restore = try await whileRunning([coordinator, agent]) {
                    try await setup.finished("Restore", namespace: "db", name: "back")
                }
                let restoreLogs = restore["status"]?["phase"] == "Completed" ? "" : await agent.logs() + "\n" + coordinator.logs()
                #expect(restore["status"]?["phase"] == "Completed", "\(restore.json.serializedString())\n\(restoreLogs)")
                #expect(restore["status"]?["volumesRestored"] == ["db/data"])
                #expect(try tests.contents(loop.path) == original, "the loop device holds the backup again")
            } catch {
                await agent.remove()
                await coordinator.remove()
                throw error
            }
            await agent.remove()
            await coordinator.remove()
        }
    }

    // MARK: - Helpers

    /// A Target `name` in `namespace` on SeaweedFS (a prefix of its own, credentials in a
    /// Secret), with the repository password Secret, asking for a new repository.
    func s3Target(_ cluster: KubeTestCluster, _ s3: SeaweedFS, namespace: String, name: String = "s3") async throws {
        let password = await cluster.server.object(apiVersion: "v1", kind: "Secret", namespace: namespace, name: "ferry-repository") == nil
        let prefix = "image-\(UUID().uuidString.prefix(8).lowercased())"
        try await cluster.server.load(
            yaml: (password
                ? """
                apiVersion: v1
                kind: Secret
                metadata: {name: ferry-repository, namespace: \(namespace)}
                data: {password: \(Data("coordinator-test-password\n".utf8).base64EncodedString())}
                ---

                """ : "") + """
                    apiVersion: v1
                    kind: Secret
                    metadata: {name: s3-credentials, namespace: \(namespace)}
                    stringData: {AWS_ACCESS_KEY_ID: \(s3.admin.accessKey), AWS_SECRET_ACCESS_KEY: \(s3.admin.secretKey)}
                    ---
                    apiVersion: ferry.dev/v1alpha1
                    kind: Target
                    metadata: {name: \(name), namespace: \(namespace)}
                    spec:
                      s3: {endpoint: "\(s3.endpoint)", bucket: \(s3.bucket), prefix: \(prefix), addressing: path, region: us-east-1,
                           credentialsSecret: {name: s3-credentials}}
                      encryptionSecret: {name: ferry-repository}
                      initialize: true
                    """)
    }

    /// Waits (on a watch) until the Target `name` has a phase in its status; returns it.
    func checked(_ cluster: KubeTestCluster, namespace: String, name: String) async throws -> KubeObject {
        let resource = try await cluster.client.resource(apiVersion: "ferry.dev/v1alpha1", kind: "Target")
        for try await event in cluster.client.watch(resource, namespace: namespace, resourceVersion: nil) {
            if let object = event.object, object.name == name, object["status"]?["phase"] != nil { return object }
        }
        throw CoordinatorTests.Setup.WatchEnded()
    }

    /// What the kubelet gives a pod of `account`: its token, the API server's CA and the
    /// namespace in a directory (mounted where in-cluster clients look), and the API's address.
    func inCluster(_ cluster: KubeTestCluster, account: String) async throws -> (mounts: [String: String], environment: [String: String]) {
        let directory = "\(cluster.directory)/serviceaccount-\(account)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let files = [
            "token": try await cluster.server.token(serviceAccount: account, namespace: "ferry"),
            "ca.crt": cluster.server.certificateAuthorityPEM, "namespace": "ferry",
        ]
        for (file, contents) in files {
            try contents.write(toFile: "\(directory)/\(file)", atomically: true, encoding: .utf8)
            try FileManager.default.setAttributes([.posixPermissions: 0o644], ofItemAtPath: "\(directory)/\(file)")
        }
        try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: directory)
        return (
            [directory: InClusterConfig.defaultDirectory],
            ["KUBERNETES_SERVICE_HOST": "127.0.0.1", "KUBERNETES_SERVICE_PORT": String(cluster.server.port)]
        )
    }

    /// The installed chart's workload `kind` (Deployment or DaemonSet).
    func workload(_ cluster: KubeTestCluster, kind: String, name: String) async throws -> KubeObject {
        try #require(await cluster.server.object(apiVersion: "apps/v1", kind: kind, namespace: "ferry", name: name))
    }

    /// The coordinator's container from the chart's Deployment; `extra` flags replace the chart's.
    func startCoordinator(_ podman: Podman, _ setup: CoordinatorTests.Setup, _ extra: [String]) async throws -> Podman.Container {
        let cluster = setup.cluster
        let deployment = try await workload(cluster, kind: "Deployment", name: "ferry-coordinator")
        let (mounts, environment) = try await inCluster(cluster, account: "ferry-coordinator")
        let containerName = name("coordinator")
        let container = try ChartContainer(
            deployment, subcommand: "coordinator", hostPaths: [:],
            fields: ["metadata.name": containerName, "metadata.namespace": "ferry"],
            environment: environment, mounts: mounts)
        #expect(container.user?.uid == 65532, "the chart runs the coordinator as the image's user")
        // The chart's metrics address listens on every interface: on the host network, loopback only.
        let metricsGiven = extra.contains { $0.hasPrefix("--metrics-address") }
        let arguments = container.command.commandLine(extra, dropping: metricsGiven ? [] : ["--metrics-address"])
        return try await podman.start(name: containerName, container.options + ["--network", "host"], arguments)
    }

    /// The agent's container from the chart's DaemonSet on node-1: the host's /dev, and
    /// `kubelet` as the node's kubelet directory.
    func startAgent(_ podman: Podman, _ setup: CoordinatorTests.Setup, kubelet: String, _ extra: [String]) async throws
        -> Podman.Container
    {
        let cluster = setup.cluster
        let daemonSet = try await workload(cluster, kind: "DaemonSet", name: "ferry-agent")
        let (mounts, environment) = try await inCluster(cluster, account: "ferry-agent")
        let containerName = name("agent")
        let container = try ChartContainer(
            daemonSet, subcommand: "agent", hostPaths: ["/dev": "/dev", "/var/lib/kubelet": kubelet],
            fields: [
                "metadata.name": containerName, "metadata.namespace": "ferry",
                "spec.nodeName": "node-1",
            ],
            environment: environment, mounts: mounts)
        #expect(container.user?.uid == 0 && container.options.contains("--privileged"), "the chart runs the agent as root, privileged")
        let arguments = container.command.commandLine(extra, dropping: ["--metrics-address"])
        return try await podman.start(name: containerName, container.options + ["--network", "host"], arguments)
    }

    /// A kubelet directory as a node's kubelet lays it out for pod db-0 (uid pod-db-0) using the
    /// block-mode local volume pv-data on `device`: the pod's device link, and the plugin's map
    /// of the volume to the device.
    func kubeletDirectory(_ cluster: KubeTestCluster, device: String) throws -> String {
        let root = "\(cluster.directory)/kubelet"
        let podDevices = "\(root)/pods/pod-db-0/volumeDevices/kubernetes.io~local-volume"
        let pluginMap = "\(root)/plugins/kubernetes.io~local-volume/volumeDevices/pv-data"
        for directory in [podDevices, pluginMap, "\(root)/plugins_registry", "\(root)/pod-resources"] {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        }
        try FileManager.default.createSymbolicLink(atPath: "\(podDevices)/pv-data", withDestinationPath: device)
        try FileManager.default.createSymbolicLink(atPath: "\(pluginMap)/pod-db-0", withDestinationPath: device)
        return root
    }

    /// `body`, failing with a container's logs as soon as one of `containers` stops running.
    func whileRunning<T: Sendable>(_ containers: [Podman.Container], _ body: @escaping @Sendable () async throws -> T) async throws -> T {
        try await withThrowingTaskGroup(of: T.self) { group in
            group.addTask { try await body() }
            group.addTask {
                while true {
                    try await Task.sleep(for: .seconds(2))
                    for container in containers where (try? await container.inspect("{{.State.Running}}")) != "true" {
                        throw ContainerStopped(name: container.name, logs: await container.logs())
                    }
                }
            }
            defer { group.cancelAll() }
            return try await group.next()!
        }
    }

    struct ContainerStopped: Error, CustomStringConvertible {
        var name: String
        var logs: String
        var description: String { "container \(name) stopped:\n\(logs)" }
    }
}
