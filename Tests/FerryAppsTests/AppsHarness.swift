import FerryApps
import FerryKube
import FerryKubeTestServer
import Foundation

/// A test API server, a client, discovery over it, and helpers to install fixtures.
struct AppsCluster {
    let server: KubeTestServer
    let client: KubeClient
    let directory: String

    static func start(options: KubeTestServer.Options = .init()) async throws -> AppsCluster {
        let server = try KubeTestServer(options: options)
        try await server.start()
        let directory = NSTemporaryDirectory() + "ferry-apps-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        try server.kubeconfig().write(toFile: "\(directory)/kubeconfig", atomically: true, encoding: .utf8)
        return AppsCluster(server: server, client: KubeClient(configuration: server.clientConfiguration()), directory: directory)
    }

    func stop() async {
        await server.shutdown()
        try? FileManager.default.removeItem(atPath: directory)
    }

    func discover(_ selector: ApplicationSelector, namespace: String, pageSize: Int = 500) async throws -> DiscoveryResult {
        try await discover(selector, scope: .namespace(namespace), pageSize: pageSize)
    }

    func discover(_ selector: ApplicationSelector, scope: DiscoveryScope, pageSize: Int = 500, helmReleaseLimit: Int? = nil) async throws -> DiscoveryResult {
        var options = ApplicationDiscovery<KubeClient>.Options()
        options.pageSize = pageSize
        if let helmReleaseLimit { options.helmReleaseLimit = helmReleaseLimit }
        return try await ApplicationDiscovery(api: client, options: options).discover(selector, scope: scope)
    }

    /// Loads fixture documents, putting namespaced objects without one into `namespace`.
    @discardableResult
    func load(_ path: String, namespace: String? = nil, edit: (inout JSONValue) -> Void = { _ in }) async throws -> [KubeObject] {
        var documents = try YAMLDocuments.parse(try Fixtures.text(path))
        for index in documents.indices {
            if let namespace, documents[index]["kind"]?.stringValue != "CustomResourceDefinition" {
                documents[index].setValue(.string(namespace), at: ["metadata", "namespace"])
            }
            edit(&documents[index])
        }
        return try await server.load(documents)
    }

    /// The hello-world chart installed by the real helm as release `hello` in `namespace`;
    /// false when helm is missing outside CI.
    func installHello(in namespace: String) async throws -> Bool {
        try await server.load(yaml: "apiVersion: v1\nkind: Namespace\nmetadata: {name: \(namespace)}")
        return try await helm(["install", "hello", HelmDiscoveryTests.helloChart, "-n", namespace, "--disable-openapi-validation"]) != nil
    }

    /// The memcached operator as a plain Deployment: its CRD, the manager and its RBAC.
    func loadMemcachedOperator(in namespace: String) async throws {
        let base = "operators/memcached-operator/config"
        try await load("\(base)/crd/bases/cache.example.com_memcacheds.yaml")
        try await load("\(base)/manager/manager.yaml")
        for file in ["service_account", "role", "role_binding", "leader_election_role", "leader_election_role_binding"] {
            try await load("\(base)/rbac/\(file).yaml", namespace: namespace)
        }
    }

    /// Runs the real helm against the server (nil when helm is missing outside CI).
    func helm(_ arguments: [String]) async throws -> String? {
        guard let path = try ExternalTool.helm.require() else { return nil }
        let environment = [
            "KUBECONFIG": "\(directory)/kubeconfig", "HOME": directory, "HELM_CACHE_HOME": "\(directory)/cache",
            "HELM_CONFIG_HOME": "\(directory)/config", "HELM_DATA_HOME": "\(directory)/data",
        ]
        let (status, output) = try await ExternalTool.helm.run(arguments, environment: environment, path: path)
        guard status == 0 else { throw HelmFailed(arguments: arguments, output: output) }
        return output
    }

    struct HelmFailed: Error, CustomStringConvertible {
        var arguments: [String]
        var output: String
        var description: String { "helm \(arguments.joined(separator: " ")) failed: \(output)" }
    }
}

func withApps<T>(options: KubeTestServer.Options = .init(), _ body: (AppsCluster) async throws -> T) async throws -> T {
    let cluster = try await AppsCluster.start(options: options)
    do {
        let result = try await body(cluster)
        await cluster.stop()
        return result
    } catch {
        await cluster.stop()
        throw error
    }
}

extension DiscoveryResult {
    /// One line per component: `Kind.group ns/name <- reason; reason` (sorted), for exact assertions.
    var summary: [String] {
        components.map { component in
            "\(component.reference) <- " + component.reasons.map(\.description).sorted().joined(separator: "; ")
        }
    }

    var references: [String] { components.map(\.reference.description) }
}
