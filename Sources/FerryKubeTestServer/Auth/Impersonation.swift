import FerryKube

/// Impersonation headers (`Impersonate-User`, `-Group`, `-Uid`, `-Extra-<key>`), handled as
/// kube-apiserver's `WithImpersonation` filter does: each requested attribute needs the
/// `impersonate` verb (on `users`, `groups`, `serviceaccounts` in the account's namespace,
/// `uids.authentication.k8s.io`, `userextras/<key>.authentication.k8s.io`), and the request
/// then runs as the impersonated user.
extension APIServerState {
    struct ImpersonationRequest {
        var kind: String
        var namespace = ""
        var name: String
        var apiVersion = ""
        var fieldPath = ""

        /// Go's `%v` of the `v1.ObjectReference` the filter builds (for its error text).
        var goDescription: String {
            "{" + [kind, namespace, name, "", apiVersion, "", fieldPath].joined(separator: " ") + "}"
        }
    }

    enum Impersonation {
        case none
        case user(UserInfo)
        case failed(APIResponse)
    }

    func impersonate(_ request: APIRequest, requestor: UserInfo) -> Impersonation {
        var requests: [ImpersonationRequest] = []
        let requestedUser = request.headers["impersonate-user"] ?? ""
        if !requestedUser.isEmpty {
            if let account = UserInfo.splitServiceAccount(requestedUser) {
                requests.append(ImpersonationRequest(kind: "ServiceAccount", namespace: account.namespace, name: account.name))
            } else {
                requests.append(ImpersonationRequest(kind: "User", name: requestedUser))
            }
        }
        // Header values arrive joined by ", " when a client repeats a header.
        let groups = request.headers["impersonate-group"].map { $0.components(separatedBy: ", ") } ?? []
        for group in groups { requests.append(ImpersonationRequest(kind: "Group", name: group)) }
        for (header, value) in request.headers.sorted(by: { $0.key < $1.key }) where header.hasPrefix("impersonate-extra-") {
            let key = APIRequest.percentDecode(String(header.dropFirst("impersonate-extra-".count)), plusIsSpace: false)
            for item in value.components(separatedBy: ", ") {
                requests.append(ImpersonationRequest(kind: "UserExtra", name: item, apiVersion: "authentication.k8s.io/v1", fieldPath: key))
            }
        }
        if let uid = request.headers["impersonate-uid"], !uid.isEmpty {
            requests.append(ImpersonationRequest(kind: "UID", name: uid, apiVersion: "authentication.k8s.io/v1"))
        }
        guard !requests.isEmpty else { return .none }
        guard !requestedUser.isEmpty else {
            let listed = "[" + requests.map(\.goDescription).joined(separator: " ") + "]"
            let text = "Internal Server Error: \(PolicyRule.goQuoted(request.path)): requested \(listed) without impersonating a user"
            return .failed(.text(500, text + "\n"))
        }
        var username = ""
        var impersonatedGroups: [String] = []
        var extra: [String: [String]] = [:]
        var uid = ""
        for item in requests {
            var acting = RequestAttributes(user: requestor, verb: "impersonate", isResourceRequest: true)
            acting.namespace = item.namespace
            acting.name = item.name
            switch item.kind {
            case "ServiceAccount":
                acting.resource = "serviceaccounts"
                username = UserInfo.serviceAccountUsername(namespace: item.namespace, name: item.name)
                if groups.isEmpty { impersonatedGroups = UserInfo.serviceAccountGroups(namespace: item.namespace) }
            case "User":
                acting.resource = "users"
                username = item.name
            case "Group":
                acting.resource = "groups"
                impersonatedGroups.append(item.name)
            case "UserExtra":
                acting.apiGroup = "authentication.k8s.io"
                acting.apiVersion = "v1"
                acting.resource = "userextras"
                acting.subresource = item.fieldPath
                extra[item.fieldPath, default: []].append(item.name)
            default:
                acting.apiGroup = "authentication.k8s.io"
                acting.apiVersion = "v1"
                acting.resource = "uids"
                uid = item.name
            }
            let decision = authorize(acting)
            guard decision.allowed else { return .failed(.status(Self.forbidden(acting, reason: decision.reason))) }
        }
        if username != UserInfo.anonymousName {
            if !impersonatedGroups.contains(UserInfo.authenticatedGroup) && !impersonatedGroups.contains(UserInfo.unauthenticatedGroup) {
                impersonatedGroups.append(UserInfo.authenticatedGroup)
            }
        } else if !impersonatedGroups.contains(UserInfo.unauthenticatedGroup) {
            impersonatedGroups.append(UserInfo.unauthenticatedGroup)
        }
        return .user(UserInfo(name: username, uid: uid, groups: impersonatedGroups, extra: extra))
    }
}
