import FerryHTTP

extension KubeClient {
    static let aggregatedAccept =
        "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,"
        + "application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList,"
        + "application/json"

    /// The server's version document (`GET /version`).
    public func serverVersion() async throws(KubeError) -> JSONValue {
        try await json("GET", "/version")
    }

    /// Every resource the server serves: aggregated discovery (two requests) when the server
    /// offers it, otherwise `/api`, `/apis` and one `APIResourceList` per group version. Group
    /// versions that fail (an aggregated API that is down) are left out.
    public func resourceCatalog(refresh: Bool) async throws(KubeError) -> APIResourceCatalog {
        if !refresh, let cached = cachedCatalog() { return cached }
        var catalog = APIResourceCatalog(resources: [])
        for root in ["/api", "/apis"] {
            let response = try await send("GET", root, accept: Self.aggregatedAccept)
            let document: JSONValue
            do {
                document = try JSONValue(parsing: response.body)
            } catch {
                throw KubeError.invalidResponse("GET \(root): \(error)")
            }
            let contentType = response.headers["Content-Type"] ?? ""
            if contentType.contains("as=APIGroupDiscoveryList") || document["kind"]?.stringValue == "APIGroupDiscoveryList" {
                do {
                    catalog.merge(try APIResourceCatalog(aggregated: document))
                } catch {
                    throw KubeError.invalidResponse("GET \(root): \(error)")
                }
            } else {
                catalog.merge(try await legacyCatalog(root: root, document: document))
            }
        }
        storeCatalog(catalog)
        return catalog
    }

    func legacyCatalog(root: String, document: JSONValue) async throws(KubeError) -> APIResourceCatalog {
        var groupVersions: [(group: String, version: String)] = []
        var preferred: [String: String] = [:]
        if root == "/api" {
            for version in (document["versions"]?.arrayValue ?? []).compactMap(\.stringValue) {
                groupVersions.append(("", version))
            }
            preferred[""] = groupVersions.first?.version
        } else {
            let groups: [(name: String, preferred: String, versions: [String])]
            do {
                groups = try APIResourceCatalog.groups(fromGroupList: document)
            } catch {
                throw KubeError.invalidResponse("GET /apis: \(error)")
            }
            for group in groups {
                preferred[group.name] = group.preferred
                for version in group.versions { groupVersions.append((group.name, version)) }
            }
        }
        var resources: [APIResource] = []
        for (group, version) in groupVersions {
            let path = GroupVersion(group: group, version: version).pathPrefix
            do {
                let list = try await json("GET", path)
                resources += try APIResourceCatalog.resources(fromResourceList: list)
            } catch let error as KubeError {
                if case .unreachable = error { throw error }
                if case .tls = error { throw error }
                if case .unauthorized = error { throw error }
                continue
            } catch {
                continue
            }
        }
        return APIResourceCatalog(resources: resources, preferredVersions: preferred)
    }

    /// The resource serving `kind` of `apiVersion`, refreshing discovery once if it is unknown
    /// (a CRD may have appeared).
    public func resource(apiVersion: String, kind: String) async throws(KubeError) -> APIResource {
        if let resource = try await resourceCatalog().resource(apiVersion: apiVersion, kind: kind) { return resource }
        if let resource = try await resourceCatalog(refresh: true).resource(apiVersion: apiVersion, kind: kind) { return resource }
        throw KubeError.unknownResource("the server does not serve \(kind) in \(apiVersion)")
    }

    /// Resolves a name as kubectl does (`deploy`, `deployments.apps`, `Deployment`).
    public func resource(named text: String) async throws(KubeError) -> APIResource {
        var matches = try await resourceCatalog().resolve(text)
        if matches.isEmpty { matches = try await resourceCatalog(refresh: true).resolve(text) }
        guard let first = matches.first else { throw KubeError.unknownResource("the server has no resource type \"\(text)\"") }
        guard matches.count == 1 else {
            throw KubeError.unknownResource("\"\(text)\" is ambiguous: \(matches.map { $0.groupKind.description }.joined(separator: ", "))")
        }
        return first
    }
}
