import FerryKube

extension APIServerState {
    var versionDocument: JSONValue {
        [
            "major": "1", "minor": "33", "gitVersion": "v1.33.0-ferry-testkube", "gitCommit": "0000000000000000000000000000000000000000",
            "gitTreeState": "clean", "buildDate": "2026-01-01T00:00:00Z", "goVersion": "go1.24.0", "compiler": "gc",
            "platform": "linux/amd64",
        ]
    }

    static func subresourceVerbs(_ name: String) -> [String] {
        ["status", "scale"].contains(name) ? ["get", "patch", "update"] : ["get"]
    }

    func entries(group: String, version: String) -> [ResourceRegistry.Entry] {
        registry.entries.filter { $0.resource.group == group && $0.resource.version == version }
    }

    /// `GET /api` or `GET /apis`: aggregated discovery when the client asks for it (and the server
    /// offers it), otherwise the legacy APIVersions / APIGroupList.
    func discoveryRoot(core: Bool, request: APIRequest) -> APIResponse {
        let accept = request.accept
        if options.aggregatedDiscovery && accept.contains("as=APIGroupDiscoveryList") {
            let version = accept.contains("v=v2;") ? "v2" : "v2beta1"
            let groups = registry.groupOrder.filter { core ? $0.isEmpty : !$0.isEmpty }
            let document: JSONValue = [
                "kind": "APIGroupDiscoveryList", "apiVersion": .string("apidiscovery.k8s.io/\(version)"),
                "metadata": [:], "items": .array(groups.map { aggregatedGroup($0) }),
            ]
            var body = document.serialized()
            body.append(UInt8(ascii: "\n"))
            return .body(
                status: 200, contentType: "application/json;g=apidiscovery.k8s.io;v=\(version);as=APIGroupDiscoveryList",
                body: body, headers: [("Vary", "Accept")])
        }
        if core {
            return .json(
                200,
                [
                    "kind": "APIVersions", "versions": ["v1"],
                    "serverAddressByClientCIDRs": [["clientCIDR": "0.0.0.0/0", "serverAddress": .string("127.0.0.1:\(port)")]],
                ])
        }
        let groups = registry.groupOrder.filter { !$0.isEmpty }.map { groupEntry($0) }
        return .json(200, ["kind": "APIGroupList", "apiVersion": "v1", "groups": .array(groups)])
    }

    func groupEntry(_ group: String) -> JSONValue {
        let versions = registry.versions(of: group).filter { registry.isServed(group: group, version: $0) }
        let versionEntries: [JSONValue] = versions.map {
            ["groupVersion": .string("\(group)/\($0)"), "version": .string($0)]
        }
        return [
            "name": .string(group), "versions": .array(versionEntries),
            "preferredVersion": versionEntries.first ?? .null,
        ]
    }

    func groupDocument(_ group: String) -> APIResponse {
        guard registry.entries.contains(where: { $0.resource.group == group }) else { return .status(Self.notFoundPath) }
        var document = groupEntry(group)
        document["kind"] = "APIGroup"
        document["apiVersion"] = "v1"
        return .json(200, document)
    }

    func aggregatedGroup(_ group: String) -> JSONValue {
        let versions = registry.versions(of: group).filter { registry.isServed(group: group, version: $0) }
        let versionEntries: [JSONValue] = versions.map { version in
            let resources: [JSONValue] = entries(group: group, version: version).map { entry in
                let r = entry.resource
                var item: JSONValue = [
                    "resource": .string(r.name),
                    "responseKind": ["group": .string(r.group), "version": .string(r.version), "kind": .string(r.kind)],
                    "scope": .string(r.namespaced ? "Namespaced" : "Cluster"),
                    "singularResource": .string(r.singularName),
                    "verbs": .array(r.verbs.sorted().map { .string($0) }),
                ]
                if !r.shortNames.isEmpty { item["shortNames"] = .array(r.shortNames.map { .string($0) }) }
                if !r.categories.isEmpty { item["categories"] = .array(r.categories.map { .string($0) }) }
                if !r.subresources.isEmpty {
                    item["subresources"] = .array(
                        r.subresources.map { sub in
                            [
                                "subresource": .string(sub),
                                "responseKind": [
                                    "group": .string(r.group), "version": .string(r.version),
                                    "kind": .string(sub == "scale" ? "Scale" : r.kind),
                                ],
                                "verbs": .array(Self.subresourceVerbs(sub).map { .string($0) }),
                            ]
                        })
                }
                return item
            }
            return ["version": .string(version), "resources": .array(resources), "freshness": "Current"]
        }
        return ["metadata": ["name": .string(group), "creationTimestamp": .null], "versions": .array(versionEntries)]
    }

    func resourceListDocument(group: String, version: String) -> JSONValue {
        var resources: [JSONValue] = []
        for entry in entries(group: group, version: version) {
            let r = entry.resource
            var item: JSONValue = [
                "name": .string(r.name), "singularName": .string(r.singularName), "namespaced": .bool(r.namespaced),
                "kind": .string(r.kind), "verbs": .array(r.verbs.sorted().map { .string($0) }),
            ]
            if !r.shortNames.isEmpty { item["shortNames"] = .array(r.shortNames.map { .string($0) }) }
            if !r.categories.isEmpty { item["categories"] = .array(r.categories.map { .string($0) }) }
            resources.append(item)
            for sub in r.subresources {
                resources.append([
                    "name": .string("\(r.name)/\(sub)"), "singularName": "", "namespaced": .bool(r.namespaced),
                    "kind": .string(sub == "scale" ? "Scale" : r.kind),
                    "verbs": .array(Self.subresourceVerbs(sub).map { .string($0) }),
                ])
            }
        }
        return [
            "kind": "APIResourceList", "apiVersion": "v1", "groupVersion": .string(GroupVersion(group: group, version: version).apiVersion),
            "resources": .array(resources),
        ]
    }
}
