import FerryKube

/// Protobuf bodies of the authentication and authorization kinds typed clients send:
/// `kubectl create serviceaccount` (ServiceAccount), `kubectl create role|clusterrole|rolebinding|
/// clusterrolebinding` (RBAC kinds), `kubectl create token` (TokenRequest),
/// `kubectl auth can-i` (SelfSubjectAccessReview, SelfSubjectRulesReview), `kubectl auth whoami`
/// (SelfSubjectReview), and the other reviews.
/// Field numbers are from k8s.io/api `core/v1`, `rbac/v1`, `authentication/v1` and
/// `authorization/v1` generated.proto.
extension ProtobufEnvelope {
    /// `metadata` and `spec` of one of these kinds, nil for another kind.
    static func authenticationKind(_ kind: String, _ raw: ArraySlice<UInt8>) throws(DecodeError) -> JSONValue? {
        if kind == "ServiceAccount" { return try serviceAccount(raw) }
        if ["Role", "ClusterRole", "RoleBinding", "ClusterRoleBinding"].contains(kind) { return try rbacObject(kind, raw) }
        let spec: (ArraySlice<UInt8>) throws(DecodeError) -> JSONValue
        switch kind {
        case "TokenRequest": spec = tokenRequestSpec
        case "SelfSubjectAccessReview": spec = selfSubjectAccessReviewSpec
        case "SubjectAccessReview", "LocalSubjectAccessReview": spec = subjectAccessReviewSpec
        case "SelfSubjectRulesReview":
            spec = { (bytes: ArraySlice<UInt8>) throws(DecodeError) -> JSONValue in
                var value: JSONValue = [:]
                for field in try fields(bytes) {
                    if field.number == 1, case .bytes(let b) = field.value { value["namespace"] = .string(string(b)) }
                }
                return value
            }
        case "TokenReview":
            spec = { (bytes: ArraySlice<UInt8>) throws(DecodeError) -> JSONValue in
                var value: JSONValue = [:]
                var audiences: [JSONValue] = []
                for field in try fields(bytes) {
                    guard case .bytes(let b) = field.value else { continue }
                    if field.number == 1 { value["token"] = .string(string(b)) }
                    if field.number == 2 { audiences.append(.string(string(b))) }
                }
                if !audiences.isEmpty { value["audiences"] = .array(audiences) }
                return value
            }
        case "SelfSubjectReview":
            spec = { (_: ArraySlice<UInt8>) throws(DecodeError) -> JSONValue in [:] }
        default:
            return nil
        }
        var object: JSONValue = [:]
        for field in try fields(raw) {
            guard case .bytes(let b) = field.value else { continue }
            if field.number == 1 { object["metadata"] = try objectMeta(b) }
            if field.number == 2 { object["spec"] = try spec(b) }
        }
        return object
    }

    /// ServiceAccount: 1 metadata, 3 imagePullSecrets (LocalObjectReference: 1 name),
    /// 4 automountServiceAccountToken (field 2, the legacy token Secrets, is not sent on create).
    static func serviceAccount(_ raw: ArraySlice<UInt8>) throws(DecodeError) -> JSONValue {
        var object: JSONValue = [:]
        var pullSecrets: [JSONValue] = []
        for field in try fields(raw) {
            switch (field.number, field.value) {
            case (1, .bytes(let b)): object["metadata"] = try objectMeta(b)
            case (3, .bytes(let b)):
                for inner in try fields(b) {
                    if inner.number == 1, case .bytes(let s) = inner.value { pullSecrets.append(["name": .string(string(s))]) }
                }
            case (4, .varint(let v)): object["automountServiceAccountToken"] = .bool(v != 0)
            default: break
            }
        }
        if !pullSecrets.isEmpty { object["imagePullSecrets"] = .array(pullSecrets) }
        return object
    }

    /// Role/ClusterRole: 1 metadata, 2 rules, 3 aggregationRule; RoleBinding/ClusterRoleBinding:
    /// 1 metadata, 2 subjects (1 kind, 2 apiGroup, 3 name, 4 namespace), 3 roleRef (1 apiGroup, 2 kind, 3 name).
    static func rbacObject(_ kind: String, _ raw: ArraySlice<UInt8>) throws(DecodeError) -> JSONValue {
        var object: JSONValue = [:]
        var rules: [JSONValue] = []
        var subjects: [JSONValue] = []
        let binding = kind.hasSuffix("Binding")
        for field in try fields(raw) {
            guard case .bytes(let b) = field.value else { continue }
            switch (field.number, binding) {
            case (1, _): object["metadata"] = try objectMeta(b)
            case (2, false): rules.append(try policyRule(b))
            case (3, false):
                var selectors: [JSONValue] = []
                for inner in try fields(b) {
                    if inner.number == 1, case .bytes(let s) = inner.value { selectors.append(try labelSelector(s)) }
                }
                object["aggregationRule"] = ["clusterRoleSelectors": .array(selectors)]
            case (2, true): subjects.append(try strings(b, [1: "kind", 2: "apiGroup", 3: "name", 4: "namespace"]))
            case (3, true): object["roleRef"] = try strings(b, [1: "apiGroup", 2: "kind", 3: "name"])
            default: break
            }
        }
        if binding { object["subjects"] = .array(subjects) } else { object["rules"] = .array(rules) }
        return object
    }

    /// A message of string fields, as an object with the given names (empty strings left out).
    static func strings(_ bytes: ArraySlice<UInt8>, _ names: [Int: String]) throws(DecodeError) -> JSONValue {
        var value: JSONValue = [:]
        for field in try fields(bytes) {
            guard case .bytes(let b) = field.value, let key = names[field.number], !b.isEmpty else { continue }
            value[key] = .string(string(b))
        }
        return value
    }

    /// PolicyRule: 1 verbs, 2 apiGroups, 3 resources, 4 resourceNames, 5 nonResourceURLs.
    static func policyRule(_ bytes: ArraySlice<UInt8>) throws(DecodeError) -> JSONValue {
        let names = [1: "verbs", 2: "apiGroups", 3: "resources", 4: "resourceNames", 5: "nonResourceURLs"]
        var lists: [String: [JSONValue]] = [:]
        for field in try fields(bytes) {
            guard case .bytes(let b) = field.value, let key = names[field.number] else { continue }
            lists[key, default: []].append(.string(string(b)))
        }
        return .object(lists.mapValues { .array($0) })
    }

    /// LabelSelector: 1 matchLabels, 2 matchExpressions (1 key, 2 operator, 3 values).
    static func labelSelector(_ bytes: ArraySlice<UInt8>) throws(DecodeError) -> JSONValue {
        var labels: [String: JSONValue] = [:]
        var expressions: [JSONValue] = []
        for field in try fields(bytes) {
            guard case .bytes(let b) = field.value else { continue }
            if field.number == 1 {
                let (key, value) = try mapEntry(b)
                labels[key] = .string(string(value))
            } else if field.number == 2 {
                var expression: JSONValue = [:]
                var values: [JSONValue] = []
                for inner in try fields(b) {
                    guard case .bytes(let s) = inner.value else { continue }
                    switch inner.number {
                    case 1: expression["key"] = .string(string(s))
                    case 2: expression["operator"] = .string(string(s))
                    case 3: values.append(.string(string(s)))
                    default: break
                    }
                }
                if !values.isEmpty { expression["values"] = .array(values) }
                expressions.append(expression)
            }
        }
        var selector: JSONValue = [:]
        if !labels.isEmpty { selector["matchLabels"] = .object(labels) }
        if !expressions.isEmpty { selector["matchExpressions"] = .array(expressions) }
        return selector
    }

    static func tokenRequestSpec(_ bytes: ArraySlice<UInt8>) throws(DecodeError) -> JSONValue {
        var spec: JSONValue = [:]
        var audiences: [JSONValue] = []
        for field in try fields(bytes) {
            switch (field.number, field.value) {
            case (1, .bytes(let b)): audiences.append(.string(string(b)))
            case (4, .varint(let v)): spec["expirationSeconds"] = .int(Int64(bitPattern: v))
            case (3, .bytes(let b)):
                var reference: JSONValue = [:]
                for inner in try fields(b) {
                    guard case .bytes(let s) = inner.value, !s.isEmpty else { continue }
                    let key = [1: "kind", 2: "apiVersion", 3: "name", 4: "uid"][inner.number]
                    if let key { reference[key] = .string(string(s)) }
                }
                spec["boundObjectRef"] = reference
            default: break
            }
        }
        spec["audiences"] = .array(audiences)
        return spec
    }

    static func selfSubjectAccessReviewSpec(_ bytes: ArraySlice<UInt8>) throws(DecodeError) -> JSONValue {
        var spec: JSONValue = [:]
        for field in try fields(bytes) {
            guard case .bytes(let b) = field.value else { continue }
            if field.number == 1 { spec["resourceAttributes"] = try resourceAttributes(b) }
            if field.number == 2 { spec["nonResourceAttributes"] = try nonResourceAttributes(b) }
        }
        return spec
    }

    static func subjectAccessReviewSpec(_ bytes: ArraySlice<UInt8>) throws(DecodeError) -> JSONValue {
        var spec: JSONValue = [:]
        var groups: [JSONValue] = []
        var extra: [String: JSONValue] = [:]
        for field in try fields(bytes) {
            guard case .bytes(let b) = field.value else { continue }
            switch field.number {
            case 1: spec["resourceAttributes"] = try resourceAttributes(b)
            case 2: spec["nonResourceAttributes"] = try nonResourceAttributes(b)
            case 3: spec["user"] = .string(string(b))
            case 4: groups.append(.string(string(b)))
            case 5:
                let (key, value) = try mapEntry(b)
                var items: [JSONValue] = []
                for inner in try fields(value) {
                    if inner.number == 1, case .bytes(let s) = inner.value { items.append(.string(string(s))) }
                }
                extra[key] = .array(items)
            case 6: spec["uid"] = .string(string(b))
            default: break
            }
        }
        if !groups.isEmpty { spec["groups"] = .array(groups) }
        if !extra.isEmpty { spec["extra"] = .object(extra) }
        return spec
    }

    static func resourceAttributes(_ bytes: ArraySlice<UInt8>) throws(DecodeError) -> JSONValue {
        let names = [1: "namespace", 2: "verb", 3: "group", 4: "version", 5: "resource", 6: "subresource", 7: "name"]
        var value: JSONValue = [:]
        for field in try fields(bytes) {
            guard case .bytes(let b) = field.value, let key = names[field.number], !b.isEmpty else { continue }
            value[key] = .string(string(b))
        }
        return value
    }

    static func nonResourceAttributes(_ bytes: ArraySlice<UInt8>) throws(DecodeError) -> JSONValue {
        var value: JSONValue = [:]
        for field in try fields(bytes) {
            guard case .bytes(let b) = field.value, !b.isEmpty else { continue }
            if field.number == 1 { value["path"] = .string(string(b)) }
            if field.number == 2 { value["verb"] = .string(string(b)) }
        }
        return value
    }
}
