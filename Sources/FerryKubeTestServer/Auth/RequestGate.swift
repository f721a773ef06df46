import FerryKube

/// What every request passes before the server handles it, in kube-apiserver's filter order:
/// authentication (401), impersonation, authorization (403 with the real Forbidden Status).
extension APIServerState {
    struct Admitted {
        var user: UserInfo
        var attributes: RequestAttributes
    }

    struct Refused: Error {
        var response: APIResponse
    }

    func admit(_ request: APIRequest) -> Result<Admitted, Refused> {
        var user: UserInfo
        switch authenticate(request) {
        case .unauthorized: return .failure(Refused(response: .status(Self.unauthorized)))
        case .authenticated(let authenticated): user = authenticated
        }
        switch impersonate(request, requestor: user) {
        case .none: break
        case .user(let impersonated): user = impersonated
        case .failed(let response): return .failure(Refused(response: response))
        }
        let attributes = RequestAttributes.of(request, user: user)
        let decision = authorize(attributes)
        guard decision.allowed else {
            return .failure(Refused(response: .status(Self.forbidden(attributes, reason: decision.reason))))
        }
        // A WebSocket upgrade of pods/exec, attach or portforward is a GET, authorized as `get`
        // like every GET; kube-apiserver then also requires `create` on the subresource (what the
        // SPDY POST needs; AuthorizePodWebsocketUpgradeCreatePermission, on by default from 1.35):
        // this server does too, so `get` on everything does not grant exec.
        if attributes.isResourceRequest, attributes.verb == "get", attributes.apiGroup.isEmpty, attributes.resource == "pods",
            ["exec", "attach", "portforward"].contains(attributes.subresource),
            request.headers["upgrade"]?.lowercased() == "websocket"
        {
            var creating = attributes
            creating.verb = "create"
            let create = authorize(creating)
            if !create.allowed {
                return .failure(Refused(response: .status(Self.forbidden(creating, reason: create.reason))))
            }
        }
        // A server-side apply that creates the object also needs `create` (the patch handler's
        // `withAuthorization` on its create validation), answered as NewForbidden(resource, name, reason).
        if attributes.isResourceRequest, attributes.verb == "patch", attributes.subresource.isEmpty,
            request.contentType == "application/apply-patch+yaml",
            let entry = registry.entry(group: attributes.apiGroup, version: attributes.apiVersion, resource: attributes.resource),
            existing(entry, namespace: attributes.namespace, name: attributes.name) == nil
        {
            var creating = attributes
            creating.verb = "create"
            let create = authorize(creating)
            if !create.allowed {
                let resource = attributes.apiGroup.isEmpty ? attributes.resource : "\(attributes.resource).\(attributes.apiGroup)"
                return .failure(
                    Refused(
                        response: .status(
                            APIStatus(
                                code: 403, reason: "Forbidden",
                                message: "\(resource) \(PolicyRule.goQuoted(attributes.name)) is forbidden: \(create.reason)",
                                detailsName: attributes.name, detailsGroup: attributes.apiGroup, detailsKind: attributes.resource))))
            }
        }
        return .success(Admitted(user: user, attributes: attributes))
    }

    /// The 403 kube-apiserver writes (`responsewriters.Forbidden`): `NewForbidden` of the
    /// request's group and resource (without subresource) and name, with the message
    /// `User "u" cannot VERB resource "r[/sub]" in API group "g" in the namespace "ns"` (or `at the
    /// cluster scope`, or `cannot VERB path "/p"`) and the authorizer's reason after a colon.
    static func forbidden(_ attributes: RequestAttributes, reason: String) -> APIStatus {
        let user = PolicyRule.goQuoted(attributes.user.name)
        var message: String
        if !attributes.isResourceRequest {
            message = "User \(user) cannot \(attributes.verb) path \(PolicyRule.goQuoted(attributes.path))"
        } else {
            let resource = PolicyRule.goQuoted(attributes.combinedResource)
            let group = PolicyRule.goQuoted(attributes.apiGroup)
            let scope =
                attributes.namespace.isEmpty
                ? "at the cluster scope" : "in the namespace \(PolicyRule.goQuoted(attributes.namespace))"
            message = "User \(user) cannot \(attributes.verb) resource \(resource) in API group \(group) \(scope)"
        }
        if !reason.isEmpty { message += ": \(reason)" }
        let qualified = attributes.apiGroup.isEmpty ? attributes.resource : "\(attributes.resource).\(attributes.apiGroup)"
        let full: String
        if qualified.isEmpty {
            full = "forbidden: \(message)"
        } else if attributes.name.isEmpty {
            full = "\(qualified) is forbidden: \(message)"
        } else {
            full = "\(qualified) \(PolicyRule.goQuoted(attributes.name)) is forbidden: \(message)"
        }
        return APIStatus(
            code: 403, reason: "Forbidden", message: full, detailsName: attributes.name.isEmpty ? nil : attributes.name,
            detailsGroup: attributes.apiGroup, detailsKind: attributes.resource.isEmpty ? nil : attributes.resource)
    }
}
