import FerryKube
import Foundation

@testable import FerryKubeTestServer

/// One answer of the test server, taken at its request handler (headers as the HTTP layer
/// passes them: names lowercased).
struct Answer {
    var status: Int
    var json: JSONValue?
    var text: String

    var message: String { json?["message"]?.stringValue ?? "" }
}

/// Sends a request as `token` (nil: none) with extra `headers` straight to the server's handler.
func call(
    _ server: KubeTestServer, _ method: String, _ target: String, token: String?, headers: [String: String] = [:],
    body: JSONValue? = nil, contentType: String = "application/json"
) async -> Answer {
    var all = headers
    if let token { all["authorization"] = "Bearer \(token)" }
    if body != nil { all["content-type"] = contentType }
    let request = APIRequest(method: method, target: target, headers: all, body: body?.serialized() ?? [])
    switch await server.state.process(request, hooksFor: server) {
    case .body(let status, _, let bytes, _):
        return Answer(status: status, json: try? JSONValue(parsing: bytes), text: String(decoding: bytes, as: UTF8.self))
    case .watch(let stream):
        await stream.onEnd()
        return Answer(status: 200, json: nil, text: "")
    case .upgrade:
        return Answer(status: 101, json: nil, text: "")
    }
}

/// Creates a ServiceAccount (as the admin) and returns a token of it.
func serviceAccount(_ server: KubeTestServer, _ name: String, in namespace: String) async throws -> String {
    try await server.load(yaml: "apiVersion: v1\nkind: ServiceAccount\nmetadata: {name: \(name), namespace: \(namespace)}")
    return try await server.token(serviceAccount: name, namespace: namespace)
}

/// The user a token authenticates as, by a SelfSubjectReview (nil when it is not accepted).
func whoami(_ server: KubeTestServer, token: String?) async -> JSONValue? {
    let answer = await call(
        server, "POST", "/apis/authentication.k8s.io/v1/selfsubjectreviews", token: token,
        body: ["apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"])
    return answer.status == 201 ? answer.json?["status"]?["userInfo"] : nil
}
