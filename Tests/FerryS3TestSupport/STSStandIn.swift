import Foundation

/// A stand-in for AWS STS's AssumeRoleWithWebIdentity: it accepts a call only when its
/// WebIdentityToken is what the token file holds at that moment (so a client that did not read
/// the file, or read a stale copy, is refused), and hands out the keys of a SeaweedFS identity
/// with an expiry the test chooses.
public final class STSStandIn: @unchecked Sendable {
    /// One AssumeRoleWithWebIdentity call.
    public struct Call: Sendable {
        public var roleARN: String
        public var sessionName: String
        public var token: String
        public var accepted: Bool
    }

    private var server: LoopbackHTTPServer!
    private let lock = NSLock()
    private var recorded: [Call] = []
    private var issued = 0

    /// - Parameters:
    ///   - tokenFile: the file whose content is the only token accepted.
    ///   - identity: whose keys to hand out.
    ///   - sessionToken: the SessionToken to return; nil leaves it out (see the S3 tests for
    ///     why SeaweedFS needs that).
    ///   - lifetime: seconds until the credentials handed out expire.
    public init(tokenFile: String, identity: SeaweedFS.Identity, sessionToken: String?, lifetime: TimeInterval = 3600) throws {
        server = try LoopbackHTTPServer { [unowned self] request in
            self.handle(request, tokenFile: tokenFile, identity: identity, sessionToken: sessionToken, lifetime: lifetime)
        }
    }

    public var endpoint: String { server.baseURL + "/" }

    public var calls: [Call] {
        lock.lock()
        defer { lock.unlock() }
        return recorded
    }

    public func stop() {
        server.stop()
    }

    private func handle(
        _ request: WireRequest, tokenFile: String, identity: SeaweedFS.Identity, sessionToken: String?, lifetime: TimeInterval
    ) -> LoopbackHTTPServer.Reply {
        let form = Self.parseForm(String(decoding: request.body, as: UTF8.self) + "&" + request.query)
        guard request.method == "POST" || request.method == "GET", form["Action"] == "AssumeRoleWithWebIdentity" else {
            return .response(Self.error(400, "InvalidAction", "only AssumeRoleWithWebIdentity is supported"))
        }
        let expected = ((try? String(contentsOfFile: tokenFile, encoding: .utf8)) ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
        let token = form["WebIdentityToken"] ?? ""
        let accepted = !expected.isEmpty && token == expected
        lock.lock()
        recorded.append(Call(roleARN: form["RoleArn"] ?? "", sessionName: form["RoleSessionName"] ?? "", token: token, accepted: accepted))
        issued += 1
        lock.unlock()
        guard accepted else {
            return .response(Self.error(400, "InvalidIdentityToken", "the web identity token is not the one in the token file"))
        }
        guard form["RoleArn"]?.hasPrefix("arn:") == true else {
            return .response(Self.error(400, "ValidationError", "RoleArn is missing or malformed"))
        }
        let formatter = ISO8601DateFormatter()
        let expiration = formatter.string(from: Date().addingTimeInterval(lifetime))
        let tokenElement = sessionToken.map { "<SessionToken>\($0)</SessionToken>" } ?? ""
        let body = """
            <AssumeRoleWithWebIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
              <AssumeRoleWithWebIdentityResult>
                <SubjectFromWebIdentityToken>system:serviceaccount:ferry:agent</SubjectFromWebIdentityToken>
                <Credentials>
                  <AccessKeyId>\(identity.accessKey)</AccessKeyId>
                  <SecretAccessKey>\(identity.secretKey)</SecretAccessKey>
                  \(tokenElement)
                  <Expiration>\(expiration)</Expiration>
                </Credentials>
              </AssumeRoleWithWebIdentityResult>
              <ResponseMetadata><RequestId>stand-in</RequestId></ResponseMetadata>
            </AssumeRoleWithWebIdentityResponse>
            """
        return .response(WireResponse(status: 200, headers: [("Content-Type", "text/xml")], body: Array(body.utf8)))
    }

    private static func error(_ status: Int, _ code: String, _ message: String) -> WireResponse {
        let body = "<ErrorResponse><Error><Type>Sender</Type><Code>\(code)</Code><Message>\(message)</Message></Error></ErrorResponse>"
        return WireResponse(status: status, headers: [("Content-Type", "text/xml")], body: Array(body.utf8))
    }

    static func parseForm(_ text: String) -> [String: String] {
        var fields: [String: String] = [:]
        for pair in text.split(separator: "&") {
            let parts = pair.split(separator: "=", maxSplits: 1)
            let name = String(parts[0]).replacingOccurrences(of: "+", with: " ").removingPercentEncoding ?? String(parts[0])
            let value = parts.count > 1 ? (String(parts[1]).replacingOccurrences(of: "+", with: " ").removingPercentEncoding ?? "") : ""
            fields[name] = value
        }
        return fields
    }
}
