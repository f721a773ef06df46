import FerryKube
import FerryKubeTestServer
import Foundation

/// Starts a test server, runs `body`, always stops it.
func withServer<T>(options: KubeTestServer.Options = .init(), _ body: (KubeTestServer, KubeClient) async throws -> T) async throws -> T {
    let server = try KubeTestServer(options: options)
    try await server.start()
    let client = KubeClient(configuration: server.clientConfiguration())
    do {
        let result = try await body(server, client)
        await server.shutdown()
        return result
    } catch {
        await server.shutdown()
        throw error
    }
}

/// Raw HTTP against the server through the client's transport: status and JSON body.
func raw(
    _ client: KubeClient, _ method: String, _ path: String, query: [(String, String)] = [], body: [UInt8]? = nil,
    contentType: String = "application/json", accept: String = "application/json"
) async -> (Int, JSONValue?) {
    do {
        let response = try await client.send(method, path, query: query, body: body, contentType: contentType, accept: accept)
        return (response.status, try? JSONValue(parsing: response.body))
    } catch {
        return (error.status?.code ?? -1, error.status?.json)
    }
}

/// Keys of a JSON object, recursively for the named nested objects.
func keys(_ value: JSONValue?) -> Set<String> { Set(value?.objectValue?.keys.map { $0 } ?? []) }
