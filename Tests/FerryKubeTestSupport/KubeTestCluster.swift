import FerryKube
import FerryKubeTestServer
import Foundation
import Testing

/// A Kubernetes API test server, a client for it, its kubeconfig in a scratch directory, and
/// helpers to install fixtures and run the real helm against it.
public struct KubeTestCluster: Sendable {
    public let server: KubeTestServer
    public let client: KubeClient
    public let directory: String

    public static func start(options: KubeTestServer.Options = .init()) async throws -> KubeTestCluster {
        let server = try KubeTestServer(options: options)
        try await server.start()
        let directory = NSTemporaryDirectory() + "ferry-apps-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        try server.kubeconfig().write(toFile: "\(directory)/kubeconfig", atomically: true, encoding: .utf8)
        return KubeTestCluster(server: server, client: KubeClient(configuration: server.clientConfiguration()), directory: directory)
    }

    public func stop() async {
        await server.shutdown()
        try? FileManager.default.removeItem(atPath: directory)
    }

    /// Loads fixture documents, putting namespaced objects without one into `namespace`.
    @discardableResult
    public func load(_ path: String, namespace: String? = nil, edit: (inout JSONValue) -> Void = { _ in }) async throws -> [KubeObject] {
        var documents = try YAMLDocuments.parse(try KubeFixtures.text(path))
        for index in documents.indices {
            if let namespace, documents[index]["kind"]?.stringValue != "CustomResourceDefinition" {
                documents[index].setValue(.string(namespace), at: ["metadata", "namespace"])
            }
            edit(&documents[index])
        }
        return try await server.load(documents)
    }

    /// The hello-world chart installed by the real helm as release `hello` in `namespace`.
    public func installHello(in namespace: String) async throws {
        try await server.load(yaml: "apiVersion: v1\nkind: Namespace\nmetadata: {name: \(namespace)}")
        _ = try await helm(["install", "hello", Self.helloChart, "-n", namespace])
    }

    /// The hello-world example chart.
    public static let helloChart = KubeFixtures.url("helm/chart-example/hello-world").path

    /// The memcached operator as a plain Deployment: its CRD, the manager and its RBAC.
    public func loadMemcachedOperator(in namespace: String) async throws {
        let base = "operators/memcached-operator/config"
        try await load("\(base)/crd/bases/cache.example.com_memcacheds.yaml")
        try await load("\(base)/manager/manager.yaml")
        for file in ["service_account", "role", "role_binding", "leader_election_role", "leader_election_role_binding"] {
            try await load("\(base)/rbac/\(file).yaml", namespace: namespace)
        }
    }

    /// Runs the real helm against the server (a missing helm skips the test outside CI).
    public func helm(_ arguments: [String]) async throws -> String {
        let path = try ExternalTool.helm.requiredPath()
        let environment = [
            "KUBECONFIG": "\(directory)/kubeconfig", "HOME": directory, "HELM_CACHE_HOME": "\(directory)/cache",
            "HELM_CONFIG_HOME": "\(directory)/config", "HELM_DATA_HOME": "\(directory)/data",
        ]
        let (status, output) = try await ExternalTool.helm.run(arguments, environment: environment, path: path)
        guard status == 0 else { throw HelmFailed(arguments: arguments, output: output) }
        return output
    }

    /// Runs the real kubectl against the server as the admin; its exit status and output.
    public func kubectl(_ arguments: [String]) async throws -> (status: Int32, output: String) {
        let path = try ExternalTool.kubectl.requiredPath()
        let environment = ["KUBECONFIG": "\(directory)/kubeconfig", "HOME": directory]
        return try await ExternalTool.kubectl.run(arguments, environment: environment, path: path)
    }

    public struct HelmFailed: Error, CustomStringConvertible {
        var arguments: [String]
        var output: String
        public var description: String { "helm \(arguments.joined(separator: " ")) failed: \(output)" }
    }
}

/// Runs `body` with a fresh test cluster, stopped afterwards whatever happens.
public func withKubeTestCluster<T>(options: KubeTestServer.Options = .init(), _ body: (KubeTestCluster) async throws -> T) async throws -> T
{
    let cluster = try await KubeTestCluster.start(options: options)
    do {
        let result = try await body(cluster)
        await cluster.stop()
        return result
    } catch {
        await cluster.stop()
        throw error
    }
}
