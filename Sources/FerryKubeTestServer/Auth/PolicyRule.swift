import FerryKube

/// One RBAC rule (`rbac.authorization.k8s.io/v1` PolicyRule), matched and compared the way
/// kube-apiserver does it (`plugin/pkg/auth/authorizer/rbac`, `pkg/registry/rbac/validation`).
struct PolicyRule: Sendable, Hashable {
    var verbs: [String] = []
    var apiGroups: [String] = []
    var resources: [String] = []
    var resourceNames: [String] = []
    var nonResourceURLs: [String] = []

    init(
        verbs: [String], apiGroups: [String] = [], resources: [String] = [], resourceNames: [String] = [],
        nonResourceURLs: [String] = []
    ) {
        self.verbs = verbs
        self.apiGroups = apiGroups
        self.resources = resources
        self.resourceNames = resourceNames
        self.nonResourceURLs = nonResourceURLs
    }

    init(json: JSONValue) {
        func strings(_ key: String) -> [String] { (json[key]?.arrayValue ?? []).compactMap(\.stringValue) }
        self.init(
            verbs: strings("verbs"), apiGroups: strings("apiGroups"), resources: strings("resources"),
            resourceNames: strings("resourceNames"), nonResourceURLs: strings("nonResourceURLs"))
    }

    static func rules(of role: JSONValue?) -> [PolicyRule] {
        (role?["rules"]?.arrayValue ?? []).map(PolicyRule.init(json:))
    }

    var json: JSONValue {
        var value: JSONValue = ["verbs": .array(verbs.map { .string($0) })]
        if !apiGroups.isEmpty || !resources.isEmpty { value["apiGroups"] = .array(apiGroups.map { .string($0) }) }
        if !resources.isEmpty { value["resources"] = .array(resources.map { .string($0) }) }
        if !resourceNames.isEmpty { value["resourceNames"] = .array(resourceNames.map { .string($0) }) }
        if !nonResourceURLs.isEmpty { value["nonResourceURLs"] = .array(nonResourceURLs.map { .string($0) }) }
        return value
    }

    // MARK: Authorization (RuleAllows)

    func allows(_ request: RequestAttributes) -> Bool {
        guard verbs.contains("*") || verbs.contains(request.verb) else { return false }
        guard request.isResourceRequest else {
            return nonResourceURLs.contains { url in
                url == "*" || url == request.path || (url.hasSuffix("*") && request.path.hasPrefix(String(url.dropLast())))
            }
        }
        guard apiGroups.contains("*") || apiGroups.contains(request.apiGroup) else { return false }
        let combined = request.combinedResource
        let resourceMatches = resources.contains { resource in
            resource == "*" || resource == combined
                || (!request.subresource.isEmpty && resource == "*/\(request.subresource)")
        }
        guard resourceMatches else { return false }
        return resourceNames.isEmpty || resourceNames.contains(request.name)
    }

    // MARK: Escalation checks (Covers, BreakdownRule, CompactRules)

    /// The rule as atomic rules: one group, resource, verb and name each (or one URL and verb).
    var breakdown: [PolicyRule] {
        var result: [PolicyRule] = []
        for group in apiGroups {
            for resource in resources {
                for verb in verbs {
                    if resourceNames.isEmpty {
                        result.append(PolicyRule(verbs: [verb], apiGroups: [group], resources: [resource]))
                    } else {
                        for name in resourceNames {
                            result.append(PolicyRule(verbs: [verb], apiGroups: [group], resources: [resource], resourceNames: [name]))
                        }
                    }
                }
            }
        }
        for url in nonResourceURLs {
            for verb in verbs { result.append(PolicyRule(verbs: [verb], nonResourceURLs: [url])) }
        }
        return result
    }

    /// Whether this (owner's) rule grants everything `sub` does (`ruleCovers`).
    func covers(_ sub: PolicyRule) -> Bool {
        let verbsMatch = verbs.contains("*") || sub.verbs.allSatisfy(verbs.contains)
        let groupsMatch = apiGroups.contains("*") || sub.apiGroups.allSatisfy(apiGroups.contains)
        let resourcesMatch =
            resources.contains("*")
            || sub.resources.allSatisfy { path in
                if resources.contains(path) { return true }
                guard let slash = path.firstIndex(of: "/") else { return false }
                return resources.contains("*" + path[slash...])
            }
        let urlsMatch = sub.nonResourceURLs.allSatisfy { path in
            nonResourceURLs.contains { owner in
                owner == path || (owner.hasSuffix("*") && path.hasPrefix(owner.trimmingCharacters(in: "*")))
            }
        }
        let namesMatch =
            sub.resourceNames.isEmpty
            ? resourceNames.isEmpty
            : resourceNames.isEmpty || sub.resourceNames.allSatisfy(resourceNames.contains)
        return verbsMatch && groupsMatch && resourcesMatch && namesMatch && urlsMatch
    }

    /// The atomic rules of `servant` that no rule of `owner` covers (`Covers`).
    static func uncovered(by owner: [PolicyRule], _ servant: [PolicyRule]) -> [PolicyRule] {
        servant.flatMap(\.breakdown).filter { sub in !owner.contains { $0.covers(sub) } }
    }

    /// Rules of one group and resource (and at most one name) that differ only by verb merged
    /// into one (`CompactRules`).
    static func compact(_ rules: [PolicyRule]) -> [PolicyRule] {
        var compacted: [PolicyRule] = []
        var simple: [String: Int] = [:]
        var merged: [PolicyRule] = []
        for rule in rules {
            let isSimple =
                rule.resourceNames.count <= 1 && rule.nonResourceURLs.isEmpty && rule.apiGroups.count == 1
                && rule.resources.count == 1
            guard isSimple else {
                compacted.append(rule)
                continue
            }
            let key = "\(rule.apiGroups[0])\u{0}\(rule.resources[0])\u{0}\(rule.resourceNames.first.map { "1" + $0 } ?? "0")"
            if let index = simple[key] {
                for verb in rule.verbs where !merged[index].verbs.contains(verb) { merged[index].verbs.append(verb) }
            } else {
                simple[key] = merged.count
                merged.append(rule)
            }
        }
        return compacted + merged
    }

    /// Go's `%q` of a string slice: `["a" "b"]`.
    static func quotedList(_ values: [String]) -> String {
        "[" + values.map(goQuoted).joined(separator: " ") + "]"
    }

    static func goQuoted(_ value: String) -> String {
        var out = "\""
        for scalar in value.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\t": out += "\\t"
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }

    /// `{APIGroups:["apps"], Resources:["deployments"], Verbs:["get"]}` (`PolicyRule.CompactString`).
    var compactString: String {
        var parts: [String] = []
        if !apiGroups.isEmpty { parts.append("APIGroups:\(Self.quotedList(apiGroups))") }
        if !resources.isEmpty { parts.append("Resources:\(Self.quotedList(resources))") }
        if !nonResourceURLs.isEmpty { parts.append("NonResourceURLs:\(Self.quotedList(nonResourceURLs))") }
        if !resourceNames.isEmpty { parts.append("ResourceNames:\(Self.quotedList(resourceNames))") }
        if !verbs.isEmpty { parts.append("Verbs:\(Self.quotedList(verbs))") }
        return "{" + parts.joined(separator: ", ") + "}"
    }
}
