import FerryKube
import FerryKubeTestServer
import FerryKubeTestSupport
import Foundation
import Testing

/// The real kubectl's authentication and authorization commands against the server:
/// `create serviceaccount` and `create token` (protobuf bodies), requests with the token (the
/// Forbidden text kubectl prints is the Status message), `auth can-i` with and without `--as`
/// (SelfSubjectAccessReview), `auth can-i --list` (SelfSubjectRulesReview), `auth whoami`.
@Suite(.serialized) struct KubectlAuthTests {
    func kubectl(_ path: String, _ arguments: [String], _ environment: RealClientTests.Environment) async throws -> (
        status: Int32, output: String
    ) {
        try await ExternalTool.kubectl.run(arguments, environment: environment.variables, path: path)
    }

    @Test func tokensCanIAndWhoami() async throws {
        let path = try ExternalTool.kubectl.requiredPath()
        try await withServer { server, _ in
            let environment = try RealClientTests.Environment(server: server)
            defer { environment.cleanUp() }
            func succeed(_ arguments: [String]) async throws -> String {
                let (status, output) = try await kubectl(path, arguments, environment)
                #expect(status == 0, "kubectl \(arguments.joined(separator: " ")): \(output)")
                return output
            }
            _ = try await succeed(["create", "namespace", "shop"])
            _ = try await succeed(["create", "serviceaccount", "robot", "-n", "shop"])
            let token = try await succeed(["create", "token", "robot", "-n", "shop"]).trimmingCharacters(in: .whitespacesAndNewlines)
            let log = await server.requests()
            #expect(
                log.contains {
                    $0.path == "/api/v1/namespaces/shop/serviceaccounts/robot/token" && $0.status == 201
                        && $0.contentType == "application/vnd.kubernetes.protobuf"
                }, "kubectl sends its TokenRequest as protobuf")

            let (refused, forbidden) = try await kubectl(path, ["--token", token, "get", "pods", "-n", "shop"], environment)
            #expect(refused == 1)
            #expect(
                forbidden.contains(
                    #"Error from server (Forbidden): pods is forbidden: User "system:serviceaccount:shop:robot" cannot list resource "#
                        + #""pods" in API group "" in the namespace "shop""#
                ), "\(forbidden)")
            #expect(try await succeed(["--token", token, "auth", "whoami"]).contains("system:serviceaccount:shop:robot"))

            let asRobot = "--as=system:serviceaccount:shop:robot"
            let before = try await kubectl(path, ["auth", "can-i", "list", "pods", "-n", "shop", asRobot], environment)
            #expect(before.status == 1 && before.output.trimmingCharacters(in: .whitespacesAndNewlines) == "no", "\(before.output)")
            // kubectl's typed creates send the RBAC objects as protobuf.
            _ = try await succeed(["create", "role", "reader", "--verb=get,list", "--resource=pods,pods/log", "-n", "shop"])
            _ = try await succeed([
                "create", "rolebinding", "reader", "--role=reader", "--serviceaccount=shop:robot", "--group=devs", "-n", "shop",
            ])
            #expect(try await succeed(["auth", "can-i", "list", "pods", "-n", "shop", asRobot]).hasPrefix("yes"))
            #expect(try await succeed(["auth", "can-i", "get", "pods", "--subresource=log", "-n", "shop", asRobot]).hasPrefix("yes"))
            #expect(try await kubectl(path, ["auth", "can-i", "delete", "pods", "-n", "shop", asRobot], environment).status == 1)
            #expect(try await kubectl(path, ["auth", "can-i", "list", "pods", "-n", "default", asRobot], environment).status == 1)
            #expect(try await succeed(["--token", token, "auth", "can-i", "get", "pods", "-n", "shop"]).hasPrefix("yes"))
            let protobuf = "application/vnd.kubernetes.protobuf"
            let reviews = await server.requests().filter { $0.path.hasSuffix("/selfsubjectaccessreviews") }
            #expect(!reviews.isEmpty && reviews.allSatisfy { $0.status == 201 && $0.contentType == protobuf }, "sent as protobuf")
            let bindings = await server.requests().filter { $0.path.hasSuffix("/rolebindings") && $0.method == "POST" }
            #expect(bindings.map(\.contentType) == [protobuf])
            // Two --as-group flags are two Impersonate-Group headers.
            #expect(
                try await succeed(["auth", "can-i", "list", "pods", "-n", "shop", "--as=jane", "--as-group=ops", "--as-group=devs"])
                    .hasPrefix("yes"))
            #expect(
                try await kubectl(path, ["auth", "can-i", "list", "pods", "-n", "shop", "--as=jane", "--as-group=ops"], environment).status
                    == 1)

            let rules = try await succeed(["auth", "can-i", "--list", "-n", "shop", asRobot])
            let lines = rules.split(separator: "\n").map {
                $0.split(separator: " ", omittingEmptySubsequences: true).joined(separator: " ")
            }
            #expect(lines.contains("pods [] [] [get list]"), "\(rules)")
            #expect(lines.contains("pods/log [] [] [get list]"), "\(rules)")
            #expect(lines.contains("selfsubjectaccessreviews.authorization.k8s.io [] [] [create]"), "\(rules)")
            #expect(lines.contains { $0.hasPrefix("[/api/*] [] [get]") }, "\(rules)")
        }
    }
}
