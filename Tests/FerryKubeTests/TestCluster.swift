import FerryKube
import FerryKubeTestServer
import Foundation

/// A running test API server and a real client for it.
struct TestCluster {
    let server: KubeTestServer
    let client: KubeClient

    static func start(options: KubeTestServer.Options = .init(), namespace: String = "default", maxRetries: Int = 3) async throws
        -> TestCluster
    {
        let server = try KubeTestServer(options: options)
        try await server.start()
        var configuration = server.clientConfiguration(namespace: namespace)
        configuration.maxRetries = maxRetries
        return TestCluster(server: server, client: KubeClient(configuration: configuration))
    }

    func resource(_ apiVersion: String, _ kind: String) async throws -> APIResource {
        try await client.resource(apiVersion: apiVersion, kind: kind)
    }

    func stop() async { await server.shutdown() }
}

/// Runs `body` against a fresh test cluster and always shuts it down.
func withCluster<T>(options: KubeTestServer.Options = .init(), maxRetries: Int = 3, _ body: (TestCluster) async throws -> T) async throws
    -> T
{
    let cluster = try await TestCluster.start(options: options, maxRetries: maxRetries)
    do {
        let result = try await body(cluster)
        await cluster.stop()
        return result
    } catch {
        await cluster.stop()
        throw error
    }
}

func configMap(_ name: String, namespace: String = "default", labels: [String: String] = [:], data: [String: String] = [:]) -> KubeObject {
    var object = KubeObject(
        apiVersion: "v1", kind: "ConfigMap", namespace: namespace, name: name, body: ["data": JSONValue(stringMap: data)])
    object.labels = labels
    return object
}
