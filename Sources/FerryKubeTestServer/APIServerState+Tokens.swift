import FerryKube
import Foundation

/// ServiceAccount tokens (`POST .../serviceaccounts/NAME/token`, a TokenRequest), as the
/// API server issues them for other services (a CSI SnapshotMetadata sidecar, say) to review.
extension APIServerState {
    /// A token the server issued: whose it is and for which audiences.
    struct IssuedToken: Sendable {
        var namespace: String
        var name: String
        /// The ServiceAccount's uid: the token dies with the account (`--service-account-lookup`).
        var uid: String
        var audiences: [String]
        var expires: Date
        var user: String { UserInfo.serviceAccountUsername(namespace: namespace, name: name) }
    }

    func issueToken(_ request: APIRequest, _ r: ResourceRequest, name: String) throws(APIError) -> APIResponse {
        let namespace = r.namespace ?? ""
        guard let account = existing(r.entry, namespace: namespace, name: name) else {
            throw APIError(Self.notFound(r.entry, name))
        }
        let body = try decodeBody(request)
        guard body["kind"]?.stringValue ?? "TokenRequest" == "TokenRequest" else {
            throw APIError(Self.badRequest("the body must be a TokenRequest"))
        }
        let requested = body["spec"]?["expirationSeconds"]?.intValue ?? 3600
        guard requested >= 600 else {
            let message = "Invalid value: \(requested): may not specify a duration less than 10 minutes"
            throw APIError(
                APIStatus(
                    code: 422, reason: "Invalid",
                    message: "TokenRequest.authentication.k8s.io \"\(name)\" is invalid: spec.expirationSeconds: \(message)",
                    detailsName: name, detailsGroup: "authentication.k8s.io", detailsKind: "TokenRequest",
                    causes: [.init(reason: "FieldValueInvalid", message: message, field: "spec.expirationSeconds")]))
        }
        var audiences = (body["spec"]?["audiences"]?.arrayValue ?? []).compactMap(\.stringValue)
        if audiences.isEmpty { audiences = options.authentication.apiAudiences }
        let expires = Date().addingTimeInterval(TimeInterval(requested))
        let token = mintToken(
            namespace: namespace, name: name, uid: account["metadata"]?["uid"]?.stringValue ?? "",
            audiences: audiences, expires: expires)
        let answer: JSONValue = [
            "kind": "TokenRequest", "apiVersion": "authentication.k8s.io/v1",
            "metadata": ["name": .string(name), "namespace": .string(namespace), "creationTimestamp": .null],
            "spec": [
                "audiences": .array(audiences.map { .string($0) }), "expirationSeconds": .int(requested),
                "boundObjectRef": body["spec"]?["boundObjectRef"] ?? .null,
            ],
            "status": ["token": .string(token), "expirationTimestamp": .string(Self.timestamp(expires))],
        ]
        return .json(201, answer)
    }

    func mintToken(namespace: String, name: String, uid: String, audiences: [String], expires: Date) -> String {
        let token = "ferry-testkube-sa-\(UUID().uuidString.lowercased())"
        issuedTokens[token] = IssuedToken(namespace: namespace, name: name, uid: uid, audiences: audiences, expires: expires)
        return token
    }

    /// A token of an existing ServiceAccount for the API server's audiences (test set-up).
    func serviceAccountToken(namespace: String, name: String, seconds: Int) throws(KubeTestServerError) -> String {
        guard let uid = serviceAccountUID(namespace: namespace, name: name) else {
            throw KubeTestServerError.setup("ServiceAccount \(namespace)/\(name) does not exist: create it before asking for its token")
        }
        return mintToken(
            namespace: namespace, name: name, uid: uid, audiences: options.authentication.apiAudiences,
            expires: Date().addingTimeInterval(TimeInterval(seconds)))
    }

    /// What a TokenReview would say of `token`: its user and audiences, nil when unknown or expired.
    func reviewToken(_ token: String) -> IssuedToken? {
        guard let issued = issuedTokens[token], issued.expires > Date() else { return nil }
        return issued
    }
}
