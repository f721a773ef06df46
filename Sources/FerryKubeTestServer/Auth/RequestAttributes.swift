import FerryKube

/// What the authorizer decides on: kube-apiserver's `authorizer.Attributes`, derived from a request
/// the way `RequestInfoFactory.NewRequestInfo` does (k8s.io/apiserver/pkg/endpoints/request).
struct RequestAttributes: Sendable, Hashable {
    var user: UserInfo
    var verb: String
    var isResourceRequest: Bool
    /// The request path (non-resource requests).
    var path: String = ""
    var apiGroup: String = ""
    var apiVersion: String = ""
    var namespace: String = ""
    var resource: String = ""
    var subresource: String = ""
    var name: String = ""

    /// `pods` or `pods/exec`: what RBAC rules and Forbidden messages name.
    var combinedResource: String { subresource.isEmpty ? resource : "\(resource)/\(subresource)" }

    /// Attributes of an HTTP request by `user`.
    static func of(_ request: APIRequest, user: UserInfo) -> RequestAttributes {
        var attributes = RequestAttributes(user: user, verb: request.method.lowercased(), isResourceRequest: false, path: request.path)
        var parts = request.path.split(separator: "/").map(String.init)
        guard parts.count >= 3, parts[0] == "api" || parts[0] == "apis" else { return attributes }
        let grouped = parts[0] == "apis"
        parts.removeFirst()
        if grouped {
            guard parts.count >= 3 else { return attributes }
            attributes.apiGroup = parts.removeFirst()
        }
        attributes.isResourceRequest = true
        attributes.apiVersion = parts.removeFirst()
        if ["watch", "proxy"].contains(parts[0]), parts.count >= 2 {
            attributes.verb = parts.removeFirst()
        } else {
            switch request.method {
            case "POST": attributes.verb = "create"
            case "GET", "HEAD": attributes.verb = "get"
            case "PUT": attributes.verb = "update"
            case "PATCH": attributes.verb = "patch"
            case "DELETE": attributes.verb = "delete"
            default: attributes.verb = ""
            }
        }
        if parts[0] == "namespaces" {
            if parts.count > 1 {
                attributes.namespace = parts[1]
                if parts.count > 2 && !["status", "finalize"].contains(parts[2]) { parts.removeFirst(2) }
            }
        }
        if parts.count >= 1 { attributes.resource = parts[0] }
        if parts.count >= 2 { attributes.name = parts[1] }
        if parts.count >= 3 && attributes.verb != "proxy" { attributes.subresource = parts[2] }
        if attributes.name.isEmpty && attributes.verb == "get" {
            attributes.verb = ["true", "1"].contains(request.query["watch"] ?? "") ? "watch" : "list"
            // A list or watch of one object by `metadata.name` is authorized as that name.
            if let selector = try? FieldSelector(parsing: request.query["fieldSelector"] ?? ""),
                let term = selector.terms.first(where: { $0.field == "metadata.name" && !$0.negated }),
                isValidPathSegment(term.value)
            {
                attributes.name = term.value
            }
        }
        if attributes.name.isEmpty && attributes.verb == "delete" { attributes.verb = "deletecollection" }
        return attributes
    }

    static func isValidPathSegment(_ name: String) -> Bool {
        !name.isEmpty && name != "." && name != ".." && !name.contains("/") && !name.contains("%")
    }
}
