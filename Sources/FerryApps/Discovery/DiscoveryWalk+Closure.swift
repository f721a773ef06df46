import FerryKube

extension DiscoveryWalk {
    /// Applies the rules that always hold until nothing new is selected.
    mutating func closeOver() async throws(KubeError) {
        while !pending.isEmpty {
            let reference = pending.removeFirst()
            guard let component = components[reference] else { continue }
            try await expand(component.object, reference: reference)
        }
    }

    mutating func expand(_ object: KubeObject, reference: ObjectReference) async throws(KubeError) {
        let crds = try await loadCRDs()
        if let crd = crds[reference.groupKind], let crdResource = resource("apiextensions.k8s.io", "CustomResourceDefinition") {
            include(crd, resource: crdResource, reason: .definitionOf(reference))
        }
        let namespace = object.namespace
        if let spec = PodSpecView(of: object) {
            for volume in spec.volumes {
                if let claim = volume.claimName {
                    try await include(
                        group: "", kind: "PersistentVolumeClaim", namespace: namespace, name: claim,
                        reason: .claimOfWorkload(reference, volume: volume.name))
                }
            }
            if let account = spec.serviceAccountName {
                try await include(
                    group: "", kind: "ServiceAccount", namespace: namespace, name: account, reason: .serviceAccountOf(reference))
            }
        }
        switch (reference.group, reference.kind) {
        case ("apps", "StatefulSet"):
            try await includeStatefulSetClaims(object)
        case ("", "PersistentVolumeClaim"):
            let claim = PersistentVolumeClaimView(object)
            if let volumeName = claim?.volumeName {
                try await include(group: "", kind: "PersistentVolume", namespace: nil, name: volumeName, reason: .boundVolumeOf(reference))
            }
            if let className = claim?.storageClassName {
                try await include(
                    group: "storage.k8s.io", kind: "StorageClass", namespace: nil, name: className, reason: .storageClassOf(reference))
            }
        case ("", "PersistentVolume"):
            if let className = PersistentVolumeView(object)?.storageClassName {
                try await include(
                    group: "storage.k8s.io", kind: "StorageClass", namespace: nil, name: className, reason: .storageClassOf(reference))
            }
        case ("", "ServiceAccount"):
            for binding in try await bindings(of: reference) {
                include(binding, resource: resource(binding.groupVersion.group, binding.kind)!, reason: .bindsServiceAccount(reference))
            }
        case ("rbac.authorization.k8s.io", "RoleBinding"), ("rbac.authorization.k8s.io", "ClusterRoleBinding"):
            try await includeRole(of: object, reference: reference)
        case ("cdi.kubevirt.io", "DataVolume"):
            try await include(
                group: "", kind: "PersistentVolumeClaim", namespace: namespace, name: object.name, reason: .claimOfDataVolume(reference),
                notFound: nil)
        case ("kubevirt.io", "VirtualMachine"):
            try await expandVirtualMachine(object)
        default:
            break
        }
        try await includeDescendants(of: object, reference: reference)
    }

    /// StatefulSet claims are named `<template>-<statefulset>-<ordinal>`; every existing ordinal
    /// is captured (scaled-down ones keep their data).
    mutating func includeStatefulSetClaims(_ statefulSet: KubeObject) async throws(KubeError) {
        let templates = (statefulSet["spec"]?["volumeClaimTemplates"]?.arrayValue ?? []).compactMap { $0["metadata"]?["name"]?.stringValue }
        guard !templates.isEmpty, let claims = resource("", "PersistentVolumeClaim") else { return }
        let existing = try await cachedList(claims, namespace: statefulSet.namespace)
        for template in templates {
            let prefix = "\(template)-\(statefulSet.name)-"
            for claim in existing where claim.name.hasPrefix(prefix) {
                let suffix = claim.name.dropFirst(prefix.count)
                guard let ordinal = Int(suffix), String(ordinal) == suffix else { continue }
                include(claim, resource: claims, reason: .statefulSetClaim(statefulSet.reference, template: template, ordinal: ordinal))
            }
        }
    }

    /// RoleBindings (in the account's namespace) and ClusterRoleBindings naming the account.
    mutating func bindings(of account: ObjectReference) async throws(KubeError) -> [KubeObject] {
        var result: [KubeObject] = []
        for kind in ["RoleBinding", "ClusterRoleBinding"] {
            guard let resource = resource("rbac.authorization.k8s.io", kind) else { continue }
            for binding in try await cachedList(resource, namespace: resource.namespaced ? account.namespace : nil) {
                let subjects = binding["subjects"]?.arrayValue ?? []
                let matches = subjects.contains { subject in
                    subject["kind"]?.stringValue == "ServiceAccount" && subject["name"]?.stringValue == account.name
                        && (subject["namespace"]?.stringValue ?? binding.namespace) == account.namespace
                }
                if matches { result.append(binding) }
            }
        }
        return result
    }

    mutating func includeRole(of binding: KubeObject, reference: ObjectReference) async throws(KubeError) {
        guard let kind = binding["roleRef"]?["kind"]?.stringValue, let name = binding["roleRef"]?["name"]?.stringValue,
            let resource = resource("rbac.authorization.k8s.io", kind)
        else { return }
        guard let role = try await fetch(resource, namespace: binding.namespace, name: name) else { return }
        if role.labels["kubernetes.io/bootstrapping"] == "rbac-defaults" {
            dropped.insert(DroppedObject(reference: role.reference, why: "built-in role every cluster has"))
            return
        }
        include(role, resource: resource, reason: .roleOfBinding(reference))
    }

    // MARK: Owner references

    mutating func indexOwned(_ object: KubeObject, resource: APIResource) {
        let owners = object.ownerReferences
        guard !owners.isEmpty else { return }
        let namespace = object.namespace ?? ""
        for owner in owners {
            ownerIndex[namespace, default: [:]][owner.uid, default: []].append((object, resource))
        }
    }

    /// Scans a namespace once, keeping only objects that have owners (bounded by what is owned,
    /// not by the namespace's size).
    mutating func buildOwnerIndex(namespace: String) async throws(KubeError) {
        guard ownerIndex[namespace] == nil, !ownerIndexIsComplete else { return }
        // A walk that may reach every namespace and has scanned a few already scans the rest
        // with one list per kind across the cluster.
        let acrossCluster = listsAcrossCluster && ownerIndex.count >= options.listsBeforeClusterWideList
        let indexed = Set(ownerIndex.keys)
        ownerIndex[namespace] = [:]
        let api = self.api
        let scope = self.scope
        for resource in walkableResources {
            do {
                try await api.forEachPage(resource, namespace: acrossCluster ? nil : namespace, pageSize: options.pageSize) { page in
                    for object in page where !indexed.contains(object.namespace ?? "") && scope.allows(namespace: object.namespace) {
                        indexOwned(object, resource: resource)
                    }
                }
            } catch {
                try report(error, subject: Self.describe(resource, namespace: acrossCluster ? nil : namespace))
            }
        }
        ownerIndexIsComplete = acrossCluster
    }

    mutating func includeDescendants(of object: KubeObject, reference: ObjectReference) async throws(KubeError) {
        guard let uid = object.uid, let namespace = object.namespace else { return }
        try await buildOwnerIndex(namespace: namespace)
        for (child, resource) in ownerIndex[namespace]?[uid] ?? [] {
            include(child, resource: resource, reason: .ownedBy(reference))
        }
    }
}
