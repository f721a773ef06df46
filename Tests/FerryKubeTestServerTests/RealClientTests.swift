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
            let first = try await run(.kubectl, kubectl, ["apply", "--validate=false", "-f", manifest], environment)
            #expect(first.contains("deployment.apps/web created") && first.contains("service/web created"))
            // Change one container, drop the other: kubectl sends a strategic merge patch.
            try deployment.replacingOccurrences(of: "web:1", with: "web:2").replacingOccurrences(of: "      - {name: log, image: \"log:1\"}\n", with: "")
                .write(toFile: manifest, atomically: true, encoding: .utf8)
            let second = try await run(.kubectl, kubectl, ["apply", "--validate=false", "-f", manifest], environment)
            #expect(second.contains("deployment.apps/web configured") && second.contains("service/web unchanged"))
            let deployments = try await client.resource(apiVersion: "apps/v1", kind: "Deployment")
            let live = try await client.get(deployments, namespace: "shop", name: "web")
            let containers = live["spec"]?["template"]?["spec"]?["containers"]?.arrayValue ?? []
            #expect(containers.map { $0["image"]! } == ["web:2"])
            #expect(live.generation == 2)
            let images = try await run(.kubectl, kubectl, ["get", "deploy", "web", "-n", "shop", "-o", "jsonpath={.spec.template.spec.containers[*].image}"], environment)
            #expect(images == "web:2")
            let created = try await run(.kubectl, kubectl, ["create", "configmap", "typed", "--from-literal=k=v", "-n", "shop"], environment)
            #expect(created.contains("configmap/typed created"), "kubectl's typed create sends protobuf")

            // `kubectl get --watch`: the watch request is the phase we strike at.
            let watching = AsyncStream<Void>.makeStream()
            await server.addHook(.init(times: 1, matching: { $0.query["watch"] == "true" && $0.path.hasSuffix("/configmaps") }) { _, _ in
                watching.continuation.yield()
                return .proceed
            })
            let watcher = try BackgroundProcess(kubectl, ["get", "configmaps", "-n", "shop", "--watch", "--output-watch-events"], environment: environment.variables)
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
            let flags = ["-n", "default", "--disable-openapi-validation"]
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
