import FerryKube

/// The review resources kube-apiserver answers without storing anything:
/// SelfSubjectAccessReview, SubjectAccessReview, LocalSubjectAccessReview and
/// SelfSubjectRulesReview (`authorization.k8s.io/v1`), TokenReview and SelfSubjectReview
/// (`authentication.k8s.io/v1`). Creating one was authorized like any create (bootstrap policy:
/// the self reviews for every authenticated user, the others for whom RBAC grants them).
extension APIServerState {
    /// The answer to a review request, nil for any other request.
    func accessReview(_ request: APIRequest, _ r: ResourceRequest, user: UserInfo) -> APIResponse? {
        let group = r.entry.resource.group
        guard request.method == "POST", r.name == nil, group == "authorization.k8s.io" || group == "authentication.k8s.io" else {
            return nil
        }
        let kinds = [
            "selfsubjectaccessreviews", "subjectaccessreviews", "localsubjectaccessreviews", "selfsubjectrulesreviews",
            "tokenreviews", "selfsubjectreviews",
        ]
        guard kinds.contains(r.entry.resource.name) else { return nil }
        do throws(APIError) {
            var review = try decodeBody(request)
            try checkKind(review, r.entry)
            review["apiVersion"] = .string(r.entry.resource.apiVersion)
            review["kind"] = .string(r.entry.resource.kind)
            var metadata = review["metadata"] ?? [:]
            metadata["creationTimestamp"] = .null
            if let namespace = r.namespace { metadata["namespace"] = .string(namespace) }
            review["metadata"] = metadata
            switch r.entry.resource.name {
            case "selfsubjectaccessreviews":
                review["status"] = try accessReviewStatus(review, as: user, kind: r.entry.resource.kind, needsSubject: false)
            case "subjectaccessreviews":
                review["status"] = try accessReviewStatus(
                    review, as: Self.subject(of: review), kind: r.entry.resource.kind,
                    needsSubject: true)
            case "localsubjectaccessreviews":
                let namespace = r.namespace ?? ""
                let requested = review["spec"]?["resourceAttributes"]?["namespace"]?.stringValue ?? ""
                if requested.isEmpty, review["spec"]?["resourceAttributes"] != nil {
                    review.setValue(.string(namespace), at: ["spec", "resourceAttributes", "namespace"])
                } else if requested != namespace {
                    throw APIError(Self.badRequest("spec.resourceAttributes.namespace must match namespace: \(namespace)"))
                }
                review["status"] = try accessReviewStatus(
                    review, as: Self.subject(of: review), kind: r.entry.resource.kind,
                    needsSubject: true)
            case "selfsubjectrulesreviews":
                guard let namespace = review["spec"]?["namespace"]?.stringValue, !namespace.isEmpty else {
                    throw APIError(Self.badRequest("no namespace on request"))
                }
                review["status"] = rulesReviewStatus(for: user, namespace: namespace)
            case "tokenreviews":
                review["status"] = tokenReviewStatus(review["spec"] ?? [:])
            default:
                review["status"] = ["userInfo": Self.userJSON(user, nameKey: "username")]
            }
            return .json(201, review)
        } catch {
            return .status(error.status)
        }
    }

    static func subject(of review: JSONValue) -> UserInfo {
        let spec = review["spec"] ?? [:]
        var extra: [String: [String]] = [:]
        for (key, values) in spec["extra"]?.objectValue ?? [:] {
            extra[key] = (values.arrayValue ?? []).compactMap(\.stringValue)
        }
        return UserInfo(
            name: spec["user"]?.stringValue ?? "", uid: spec["uid"]?.stringValue ?? "",
            groups: (spec["groups"]?.arrayValue ?? []).compactMap(\.stringValue), extra: extra)
    }

    /// `status` of an access review: the authorizer's decision for the attributes in `spec`.
    func accessReviewStatus(_ review: JSONValue, as user: UserInfo, kind: String, needsSubject: Bool) throws(APIError) -> JSONValue {
        let spec = review["spec"] ?? [:]
        let resource = spec["resourceAttributes"].flatMap { $0.isNull ? nil : $0 }
        let nonResource = spec["nonResourceAttributes"].flatMap { $0.isNull ? nil : $0 }
        var causes: [APIStatus.Cause] = []
        func invalid(_ field: String, _ message: String) {
            causes.append(.init(reason: "FieldValueInvalid", message: message, field: field))
        }
        if resource != nil && nonResource != nil {
            invalid("spec.nonResourceAttributes", "Invalid value: \"object\": cannot be specified in combination with resourceAttributes")
        }
        if resource == nil && nonResource == nil {
            invalid(
                "spec.resourceAttributes",
                "Invalid value: \"null\": exactly one of nonResourceAttributes or resourceAttributes must be specified")
        }
        if needsSubject && user.name.isEmpty && user.groups.isEmpty {
            invalid("spec.user", "Invalid value: \"\": at least one of user or group must be specified")
        }
        guard causes.isEmpty else {
            let message =
                "\(kind).authorization.k8s.io \"\" is invalid: "
                + (causes.count == 1
                    ? "\(causes[0].field): \(causes[0].message)"
                    : "[" + causes.map { "\($0.field): \($0.message)" }.joined(separator: ", ") + "]")
            throw APIError(
                APIStatus(
                    code: 422, reason: "Invalid", message: message, detailsName: "", detailsGroup: "authorization.k8s.io",
                    detailsKind: kind, causes: causes))
        }
        var attributes = RequestAttributes(user: user, verb: "", isResourceRequest: resource != nil)
        if let resource {
            attributes.verb = resource["verb"]?.stringValue ?? ""
            attributes.namespace = resource["namespace"]?.stringValue ?? ""
            attributes.apiGroup = resource["group"]?.stringValue ?? ""
            attributes.apiVersion = resource["version"]?.stringValue ?? "*"
            attributes.resource = resource["resource"]?.stringValue ?? ""
            attributes.subresource = resource["subresource"]?.stringValue ?? ""
            attributes.name = resource["name"]?.stringValue ?? ""
        } else if let nonResource {
            attributes.verb = nonResource["verb"]?.stringValue ?? ""
            attributes.path = nonResource["path"]?.stringValue ?? ""
        }
        let decision = authorize(attributes)
        var status: JSONValue = ["allowed": .bool(decision.allowed)]
        if !decision.reason.isEmpty { status["reason"] = .string(decision.reason) }
        return status
    }

    /// `status` of a SelfSubjectRulesReview: every rule bound to the user in the namespace,
    /// incomplete (with the error) when a binding names a missing role.
    func rulesReviewStatus(for user: UserInfo, namespace: String) -> JSONValue {
        let (rules, errors) = rules(for: user, namespace: namespace)
        func list(_ values: [String]) -> JSONValue { .array(values.map { .string($0) }) }
        var resourceRules: [JSONValue] = []
        var nonResourceRules: [JSONValue] = []
        for rule in rules {
            if !rule.resources.isEmpty {
                var item: JSONValue = ["verbs": list(rule.verbs)]
                if !rule.apiGroups.isEmpty { item["apiGroups"] = list(rule.apiGroups) }
                item["resources"] = list(rule.resources)
                if !rule.resourceNames.isEmpty { item["resourceNames"] = list(rule.resourceNames) }
                resourceRules.append(item)
            }
            if !rule.nonResourceURLs.isEmpty {
                nonResourceRules.append(["verbs": list(rule.verbs), "nonResourceURLs": list(rule.nonResourceURLs)])
            }
        }
        var status: JSONValue = [
            "resourceRules": .array(resourceRules), "nonResourceRules": .array(nonResourceRules), "incomplete": .bool(!errors.isEmpty),
        ]
        if !errors.isEmpty { status["evaluationError"] = .string(Self.aggregate(errors)) }
        return status
    }

    /// `status` of a TokenReview: the token's user if it is valid for the requested audiences
    /// (default: the API server's own).
    func tokenReviewStatus(_ spec: JSONValue) -> JSONValue {
        let requested = (spec["audiences"]?.arrayValue ?? []).compactMap(\.stringValue)
        let audiences = requested.isEmpty ? options.authentication.apiAudiences : requested
        let token = spec["token"]?.stringValue ?? ""
        guard let user = userOf(token: token, audiences: audiences) else {
            return ["user": [:], "error": "invalid bearer token"]
        }
        var granted = audiences
        if let issued = issuedTokens[token] { granted = audiences.filter(issued.audiences.contains) }
        return ["authenticated": true, "user": Self.userJSON(user, nameKey: "username"), "audiences": .array(granted.map { .string($0) })]
    }

    static func userJSON(_ user: UserInfo, nameKey: String) -> JSONValue {
        var value: JSONValue = .object([nameKey: .string(user.name)])
        if !user.uid.isEmpty { value["uid"] = .string(user.uid) }
        if !user.groups.isEmpty { value["groups"] = .array(user.groups.map { .string($0) }) }
        if !user.extra.isEmpty {
            value["extra"] = .object(user.extra.mapValues { .array($0.map { .string($0) }) })
        }
        return value
    }
}
