import FerryKube
import FerryKubeTestServer
import FerryKubeTestSupport
import Foundation
import Synchronization
import Testing

/// kubectl and helm themselves against the test server.
@Suite(.serialized) struct RealClientTests {
    struct Environment {
        let directory: String
        let variables: [String: String]

        init(server: KubeTestServer) throws {
            directory = NSTemporaryDirectory() + "ferry-realclients-\(UUID().uuidString)"
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            let kubeconfig = "\(directory)/kubeconfig"
            try server.kubeconfig(namespace: "default").write(toFile: kubeconfig, atomically: true, encoding: .utf8)
            variables = [
                "KUBECONFIG": kubeconfig, "HOME": directory, "HELM_CACHE_HOME": "\(directory)/cache",
                "HELM_CONFIG_HOME": "\(directory)/config", "HELM_DATA_HOME": "\(directory)/data",
            ]
        }

        func cleanUp() { try? FileManager.default.removeItem(atPath: directory) }
    }

    func run(_ tool: ExternalTool, _ path: String, _ arguments: [String], _ environment: Environment) async throws -> String {
        let (status, output) = try await tool.run(arguments, environment: environment.variables, path: path)
        #expect(status == 0, "\(tool.rawValue) \(arguments.joined(separator: " ")) failed: \(output)")
        return output
    }

    @Test func kubectlApplyGetWatchDelete() async throws {
        let kubectl = try ExternalTool.kubectl.requiredPath()
        try await withServer { server, client in
            let environment = try Environment(server: server)
            defer { environment.cleanUp() }
            let manifest = "\(environment.directory)/app.yaml"
            let deployment = """
                apiVersion: v1
                kind: Namespace
                metadata: {name: shop}
                ---
                apiVersion: apps/v1
                kind: Deployment
                metadata: {name: web, namespace: shop, labels: {app: web}}
                spec:
                  selector: {matchLabels: {app: web}}
                  template:
                    metadata: {labels: {app: web}}
                    spec:
                      containers:
                      - {name: web, image: "web:1", ports: [{containerPort: 80}]}
                      - {name: log, image: "log:1"}
                ---
                apiVersion: v1
                kind: Service
                metadata: {name: web, namespace: shop}
                spec: {selector: {app: web}, ports: [{port: 80}]}
                """
            try deployment.write(toFile: manifest, atomically: true, encoding: .utf8)
            let first = try await run(.kubectl, kubectl, ["apply", "-f", manifest], environment)
            #expect(first.contains("deployment.apps/web created") && first.contains("service/web created"))
            // Change one container, drop the other: kubectl sends a strategic merge patch.
            try deployment.replacingOccurrences(of: "web:1", with: "web:2").replacingOccurrences(
                of: "      - {name: log, image: \"log:1\"}\n", with: ""
            )
            .write(toFile: manifest, atomically: true, encoding: .utf8)
            let second = try await run(.kubectl, kubectl, ["apply", "-f", manifest], environment)
            #expect(second.contains("deployment.apps/web configured") && second.contains("service/web unchanged"))
            let deployments = try await client.resource(apiVersion: "apps/v1", kind: "Deployment")
            let live = try await client.get(deployments, namespace: "shop", name: "web")
            let containers = live["spec"]?["template"]?["spec"]?["containers"]?.arrayValue ?? []
            #expect(containers.map { $0["image"]! } == ["web:2"])
            #expect(live.generation == 2)
            let images = try await run(
                .kubectl, kubectl, ["get", "deploy", "web", "-n", "shop", "-o", "jsonpath={.spec.template.spec.containers[*].image}"],
                environment)
            #expect(images == "web:2")
            let created = try await run(
                .kubectl, kubectl, ["create", "configmap", "typed", "--from-literal=k=v", "-n", "shop"], environment)
            #expect(created.contains("configmap/typed created"), "kubectl's typed create sends protobuf")

            // `kubectl get --watch`: the watch request is the phase we strike at.
            let watching = AsyncStream<Void>.makeStream()
            await server.addHook(
                .init(times: 1, matching: { $0.query["watch"] == "true" && $0.path.hasSuffix("/configmaps") }) { _, _ in
                    watching.continuation.yield()
                    return .proceed
                })
            let watcher = try BackgroundProcess(
                kubectl, ["get", "configmaps", "-n", "shop", "--watch", "--output-watch-events"], environment: environment.variables)
            defer { watcher.terminate() }
            var signal = watching.stream.makeAsyncIterator()
            await signal.next()
            _ = try await run(.kubectl, kubectl, ["create", "configmap", "late", "--from-literal=a=b", "-n", "shop"], environment)
            _ = try await run(.kubectl, kubectl, ["delete", "configmap", "late", "-n", "shop"], environment)
            let seen = try await watcher.waitForLine { $0.contains("DELETED") && $0.contains("late") }
            #expect(seen.contains { $0.contains("ADDED") && $0.contains("late") })

            let deleted = try await run(.kubectl, kubectl, ["delete", "-f", manifest], environment)
            #expect(deleted.contains("deployment.apps \"web\" deleted"))
            let remaining = try await run(.kubectl, kubectl, ["get", "all", "-n", "shop", "-o", "name"], environment)
            #expect(remaining.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty)
        }
    }

    @Test func helmFullCycle() async throws {
        let helm = try ExternalTool.helm.requiredPath()
        let chart = Fixtures.url("helm/chart-example/hello-world").path
        try await withServer { server, client in
            let environment = try Environment(server: server)
            defer { environment.cleanUp() }
            let flags = ["-n", "default"]
            _ = try await run(.helm, helm, ["install", "hello", chart] + flags, environment)
            let secrets = try await client.resource(apiVersion: "v1", kind: "Secret")
            let storage = try await client.listAll(secrets, namespace: "default", labelSelector: "owner=helm,name=hello")
            #expect(storage.map(\.name) == ["sh.helm.release.v1.hello.v1"])
            #expect(storage.first?.labels["status"] == "deployed")
            #expect(try await run(.helm, helm, ["list", "-n", "default"], environment).contains("deployed"))
            _ = try await run(.helm, helm, ["upgrade", "hello", chart, "--set", "replicaCount=3"] + flags, environment)
            let deployments = try await client.resource(apiVersion: "apps/v1", kind: "Deployment")
            #expect(try await client.get(deployments, namespace: "default", name: "hello-hello-world")["spec"]?["replicas"] == 3)
            _ = try await run(.helm, helm, ["rollback", "hello", "1", "-n", "default"], environment)
            #expect(try await client.get(deployments, namespace: "default", name: "hello-hello-world")["spec"]?["replicas"] == 1)
            let history = try await run(.helm, helm, ["history", "hello", "-n", "default"], environment)
            #expect(history.contains("superseded") && history.contains("Rollback to 1"))
            let revisions = try await client.listAll(secrets, namespace: "default", labelSelector: "owner=helm,name=hello").map(\.name)
            #expect(revisions == ["sh.helm.release.v1.hello.v1", "sh.helm.release.v1.hello.v2", "sh.helm.release.v1.hello.v3"])
            _ = try await run(.helm, helm, ["uninstall", "hello", "-n", "default"], environment)
            #expect(try await client.listAll(secrets, namespace: "default", labelSelector: "owner=helm").isEmpty)
            await #expect(throws: KubeError.self) { try await client.get(deployments, namespace: "default", name: "hello-hello-world") }
        }
    }
}

extension RealClientTests {
    /// kubectl at its default validation: a misspelt field is refused with the real server's
    /// message (kubectl asks OpenAPI v3 whether the server validates fields, then sends
    /// `fieldValidation=Strict`), `--validate=warn` stores the object and prints the warning;
    /// `kubectl get` shows the server's columns and `kubectl explain` reads the v3 schemas.
    @Test func kubectlValidatesOnTheServerAndShowsItsColumns() async throws {
        let kubectl = try ExternalTool.kubectl.requiredPath()
        try await withServer { server, _ in
            let environment = try Environment(server: server)
            defer { environment.cleanUp() }
            let manifest = "\(environment.directory)/misspelt.yaml"
            try """
            apiVersion: apps/v1
            kind: Deployment
            metadata: {name: web, namespace: default}
            spec:
              replica: 2
              selector: {matchLabels: {app: web}}
              template:
                metadata: {labels: {app: web}}
                spec: {containers: [{name: web, image: "web:1"}]}
            """.write(toFile: manifest, atomically: true, encoding: .utf8)
            let (refused, message) = try await ExternalTool.kubectl.run(
                ["apply", "-f", manifest], environment: environment.variables, path: kubectl)
            #expect(refused == 1)
            #expect(
                message.contains(
                    #"Error from server (BadRequest): error when creating "\#(manifest)""#
                        + #": Deployment in version "v1" cannot be handled as a Deployment"#
                        + #": strict decoding error: unknown field "spec.replica""#
                ),
                "\(message)")
            let warned = try await run(.kubectl, kubectl, ["apply", "--validate=warn", "-f", manifest], environment)
            #expect(
                warned.contains(#"Warning: unknown field "spec.replica""#) && warned.contains("deployment.apps/web created"), "\(warned)")

            try await server.load(
                yaml: """
                    apiVersion: v1
                    kind: PersistentVolumeClaim
                    metadata: {name: data, namespace: default}
                    spec:
                      accessModes: [ReadWriteOnce]
                      resources: {requests: {storage: 5Gi}}
                      storageClassName: local
                      volumeName: pv-data
                    status: {phase: Bound, accessModes: [ReadWriteOnce], capacity: {storage: 5Gi}}
                    """)
            let claims = try await run(.kubectl, kubectl, ["get", "pvc", "-n", "default"], environment)
            let lines = claims.split(separator: "\n").map {
                $0.split(separator: " ", omittingEmptySubsequences: true).joined(separator: " ")
            }
            #expect(lines.first == "NAME STATUS VOLUME CAPACITY ACCESS MODES STORAGECLASS VOLUMEATTRIBUTESCLASS AGE", "\(claims)")
            #expect(lines.dropFirst().first?.hasPrefix("data Bound pv-data 5Gi RWO local <unset> ") == true, "\(claims)")
            let deployments = try await run(.kubectl, kubectl, ["get", "deployments", "-o", "wide"], environment)
            #expect(
                deployments.split(separator: "\n").first?.split(separator: " ", omittingEmptySubsequences: true).joined(separator: " ")
                    == "NAME READY UP-TO-DATE AVAILABLE AGE CONTAINERS IMAGES SELECTOR", "\(deployments)")
            let explained = try await run(.kubectl, kubectl, ["explain", "deployment.spec.replicas"], environment)
            #expect(explained.contains("FIELD: replicas <integer>") && explained.contains("Number of desired pods."), "\(explained)")

            // A List, and a kind without a PATCH path, are validated by kubectl itself against /openapi/v2.
            let list = "\(environment.directory)/list.yaml"
            try
                ("apiVersion: v1\nkind: List\nitems:\n"
                + "- {apiVersion: v1, kind: ConfigMap, metadata: {name: a, namespace: default}, datta: {x: y}}\n")
                .write(toFile: list, atomically: true, encoding: .utf8)
            let (listRefused, listMessage) = try await ExternalTool.kubectl.run(
                ["apply", "-f", list], environment: environment.variables, path: kubectl)
            #expect(
                listRefused == 1
                    && listMessage.contains(#"ValidationError(ConfigMap): unknown field "datta" in io.k8s.api.core.v1.ConfigMap"#),
                "\(listMessage)")
            try String(contentsOfFile: list, encoding: .utf8).replacingOccurrences(of: "datta", with: "data").write(
                toFile: list, atomically: true, encoding: .utf8)
            #expect(try await run(.kubectl, kubectl, ["apply", "-f", list], environment).contains("configmap/a created"))
            let review = "\(environment.directory)/review.json"
            try
                (#"{"apiVersion": "authorization.k8s.io/v1", "kind": "SelfSubjectAccessReview", "#
                + #""spec": {"resourceAttributes": {"verb": "get", "resource": "pods"}}}"#)
                .write(toFile: review, atomically: true, encoding: .utf8)
            #expect(try await run(.kubectl, kubectl, ["create", "-f", review, "-o", "jsonpath={.status.allowed}"], environment) == "true")
        }
    }

    /// helm at its default validation installs with server-side apply and `fieldValidation=Strict`;
    /// a chart with a misspelt field fails with the real server's error.
    @Test func helmRefusesAChartWithAMisspeltField() async throws {
        let helm = try ExternalTool.helm.requiredPath()
        try await withServer { server, _ in
            let environment = try Environment(server: server)
            defer { environment.cleanUp() }
            let chart = "\(environment.directory)/chart"
            try FileManager.default.copyItem(atPath: Fixtures.url("helm/chart-example/hello-world").path, toPath: chart)
            let template = "\(chart)/templates/deployment.yaml"
            try String(contentsOfFile: template, encoding: .utf8).replacingOccurrences(of: "replicas:", with: "replica:")
                .write(toFile: template, atomically: true, encoding: .utf8)
            let (status, output) = try await ExternalTool.helm.run(
                ["install", "bad", chart, "-n", "default"], environment: environment.variables, path: helm)
            #expect(status != 0)
            #expect(
                output.contains(
                    #"failed to create typed patch object (default/bad-hello-world; apps/v1, Kind=Deployment)"#
                        + #": .spec.replica: field not declared in schema"#
                ),
                "\(output)")
            #expect(await server.object(apiVersion: "apps/v1", kind: "Deployment", namespace: "default", name: "bad-hello-world") == nil)
        }
    }
}

/// A long-running process whose output lines can be awaited.
final class BackgroundProcess: Sendable {
    private let process: Process
    private let lines: AsyncStream<String>
    private let buffer = Mutex<[String]>([])

    init(_ path: String, _ arguments: [String], environment: [String: String]) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: path)
        process.arguments = arguments
        var merged = ProcessInfo.processInfo.environment
        for (k, v) in environment { merged[k] = v }
        process.environment = merged
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        let (stream, continuation) = AsyncStream<String>.makeStream()
        let pending = Mutex<[UInt8]>([])
        pipe.fileHandleForReading.readabilityHandler = { handle in
            let data = handle.availableData
            if data.isEmpty {
                handle.readabilityHandler = nil
                continuation.finish()
                return
            }
            let complete: [String] = pending.withLock { bytes in
                bytes += data
                var out: [String] = []
                while let newline = bytes.firstIndex(of: 0x0A) {
                    out.append(String(decoding: bytes[..<newline], as: UTF8.self))
                    bytes.removeFirst(newline + 1)
                }
                return out
            }
            for line in complete { continuation.yield(line) }
        }
        self.process = process
        self.lines = stream
        try process.run()
    }

    /// Lines until one satisfies `done` (all of them returned); fails if output ends first.
    func waitForLine(_ done: (String) -> Bool) async throws -> [String] {
        var seen: [String] = []
        for await line in lines {
            seen.append(line)
            if done(line) { return seen }
        }
        throw ExternalTool.Missing(tool: .kubectl)
    }

    func terminate() {
        if process.isRunning { process.terminate() }
        process.waitUntilExit()
    }
}
