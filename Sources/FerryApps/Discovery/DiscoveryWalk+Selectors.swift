import FerryKube

extension DiscoveryWalk {
    mutating func seed(_ selector: ApplicationSelector) async throws(KubeError) {
        _ = try await loadCRDs()
        switch selector {
        case .helmRelease(let name):
            _ = try await seedHelmRelease(name)
        case .namespace(let namespace):
            try await seedNamespace(namespace)
        case .labelSelector(let selector):
            try await seedLabelSelector(selector)
        case .virtualMachine(let name):
            try await seedVirtualMachine(name)
        case .operator(let reference):
            try await seedOperator(reference)
        }
    }

    /// Namespaces to search for a named object: the plan's own, or every namespace.
    var searchNamespaces: [String?] {
        switch scope {
        case .namespace(let own): return [own]
        case .cluster(let namespaces?): return namespaces.sorted().map { $0 }
        case .cluster(nil): return [nil]
        }
    }

    // MARK: Helm

    /// Finds a release's storage objects, captures them, and selects what the deployed revision's
    /// manifest names. Returns the manifest's objects.
    @discardableResult
    mutating func seedHelmRelease(_ release: String) async throws(KubeError) -> [KubeObject] {
        var storage: [(KubeObject, APIResource)] = []
        for kind in ["Secret", "ConfigMap"] {
            guard let resource = resource("", kind) else { continue }
            for namespace in searchNamespaces {
                let objects = try await cachedList(resource, namespace: namespace, labelSelector: "owner=helm,name=\(release)")
                storage += objects.filter { $0.name.hasPrefix("sh.helm.release.v1.\(release).v") }.map { ($0, resource) }
            }
        }
        guard !storage.isEmpty else {
            issues.insert(
                DiscoveryIssue(
                    kind: .missing, subject: "Helm release \(release)",
                    message: "no release storage (Secrets or ConfigMaps labelled owner=helm,name=\(release)) in \(scope)"))
            return []
        }
        var byNamespace: [String: [(KubeObject, APIResource, HelmRelease?)]] = [:]
        for (object, resource) in storage {
            var decoded: HelmRelease?
            do {
                decoded = try HelmRelease(storageObject: object, limit: options.helmReleaseLimit)
            } catch {
                issues.insert(DiscoveryIssue(kind: .malformed, subject: object.reference.description, message: error.reason))
            }
            byNamespace[object.namespace ?? "", default: []].append((object, resource, decoded))
        }
        var selected: [KubeObject] = []
        for namespace in byNamespace.keys.sorted() {
            let records = byNamespace[namespace]!
            for (object, resource, decoded) in records {
                let revision = decoded?.revision ?? Int(object.labels["version"] ?? "") ?? 0
                include(object, resource: resource, reason: .helmReleaseStorage(release: release, revision: revision))
            }
            let decoded = records.compactMap(\.2).sorted { $0.revision < $1.revision }
            guard let deployed = decoded.last(where: { $0.status == "deployed" }) ?? decoded.last else {
                issues.insert(
                    DiscoveryIssue(
                        kind: .malformed, subject: "Helm release \(release) in \(namespace)",
                        message: "no revision could be decoded; only its storage is captured"))
                continue
            }
            if deployed.status != "deployed" {
                issues.insert(
                    DiscoveryIssue(
                        kind: .missing, subject: "Helm release \(release) in \(namespace)",
                        message: "no deployed revision; using revision \(deployed.revision) (\(deployed.status))"))
            }
            let entries: [ManifestEntry]
            do {
                entries = try HelmRelease.entries(ofManifest: deployed.manifest)
            } catch {
                issues.insert(
                    DiscoveryIssue(
                        kind: .malformed, subject: "Helm release \(release) revision \(deployed.revision)", message: "manifest: \(error)"))
                continue
            }
            for entry in entries {
                if let object = try await include(
                    apiVersion: entry.apiVersion, kind: entry.kind, namespace: entry.namespace ?? deployed.namespace, name: entry.name,
                    reason: .helmManifest(release: release, revision: deployed.revision))
                {
                    selected.append(object)
                }
            }
            for hook in deployed.hookManifests {
                guard let hookEntries = try? HelmRelease.entries(ofManifest: hook) else { continue }
                for entry in hookEntries {
                    try await include(
                        apiVersion: entry.apiVersion, kind: entry.kind, namespace: entry.namespace ?? deployed.namespace, name: entry.name,
                        reason: .helmHook(release: release, revision: deployed.revision), notFound: nil)
                }
            }
        }
        return selected
    }

    // MARK: Namespace and labels

    /// Namespaced, listable resources a walk visits (events and EndpointSlices are regenerated
    /// and can be huge, so they are not listed at all).
    var walkableResources: [APIResource] {
        catalog.preferredResources(namespaced: true, supporting: ["list"]).filter { resource in
            !(resource.name == "events" && (resource.group == "" || resource.group == "events.k8s.io"))
                && !(resource.group == "discovery.k8s.io" && resource.name == "endpointslices")
        }
    }

    mutating func seedNamespace(_ namespace: String) async throws(KubeError) {
        guard scope.allows(namespace: namespace) else {
            issues.insert(DiscoveryIssue(kind: .outOfScope, subject: "namespace \(namespace)", message: "the plan is limited to \(scope)"))
            return
        }
        try await include(group: "", kind: "Namespace", namespace: nil, name: namespace, reason: .theNamespace)
        let api = self.api
        for resource in walkableResources {
            // Per namespace, or (over many namespaces) from one list across the cluster.
            for object in try await cachedList(resource, namespace: namespace) {
                include(object, resource: resource, reason: .inNamespace(namespace))
                indexOwned(object, resource: resource)
            }
        }
        ownerIndex[namespace, default: [:]] = ownerIndex[namespace] ?? [:]
    }

    mutating func seedLabelSelector(_ selector: LabelSelector) async throws(KubeError) {
        let text = selector.description
        var resources = walkableResources
        if case .cluster = scope {
            resources += catalog.preferredResources(namespaced: false, supporting: ["list"])
        }
        let api = self.api
        for resource in resources {
            for namespace in resource.namespaced ? searchNamespaces : [nil] {
                if let namespace, prefersClusterWideList(resource, labelSelector: text) {
                    for object in try await clusterWideList(resource, labelSelector: text)[namespace] ?? []
                    where selector.matches(object.labels) {
                        include(object, resource: resource, reason: .labelSelector(text))
                    }
                    continue
                }
                do {
                    try await api.forEachPage(resource, namespace: namespace, labelSelector: text, pageSize: options.pageSize) { page in
                        for object in page where selector.matches(object.labels) {
                            include(object, resource: resource, reason: .labelSelector(text))
                        }
                    }
                } catch {
                    try report(error, subject: Self.describe(resource, namespace: namespace))
                }
            }
        }
    }
}
