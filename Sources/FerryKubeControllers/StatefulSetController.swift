import FerryKube
import Foundation

/// The StatefulSet controller's part that matters for backups: for each ordinal below
/// `spec.replicas`, the claims of `volumeClaimTemplates` (`<template>-<set>-<ordinal>`, kept
/// when the set goes, as `persistentVolumeClaimRetentionPolicy` Retain says) and the pod
/// `<set>-<ordinal>` using them, owned by the set; then the set's status from its pods.
/// Scaling down, rolling updates and pod replacement are not played.
struct StatefulSetController: Sendable {
    let client: KubeClient
    let watcher: ResourceWatcher
    let log: @Sendable (String) -> Void

    func run() async throws {
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                try await watcher.watch(apiVersion: "apps/v1", kind: "StatefulSet") { event in
                    guard case let object? = event.object, !event.isDeletion else { return }
                    try await reconcile(namespace: object.namespace ?? "", name: object.name)
                }
            }
            group.addTask {
                try await watcher.watch(apiVersion: "v1", kind: "Pod") { event in
                    guard let pod = event.object, let owner = pod.controllerReference, owner.kind == "StatefulSet" else { return }
                    try await reconcile(namespace: pod.namespace ?? "", name: owner.name)
                }
            }
            try await group.next()
            group.cancelAll()
        }
    }

    func reconcile(namespace: String, name: String) async throws {
        let sets = try await client.resource(apiVersion: "apps/v1", kind: "StatefulSet")
        guard let set = try await client.find(sets, namespace: namespace, name: name), set.deletionTimestamp == nil, let uid = set.uid
        else { return }
        let spec = set["spec"] ?? [:]
        let replicas = Int(spec["replicas"]?.intValue ?? 1)
        let pods = try await client.resource(apiVersion: "v1", kind: "Pod")
        let claims = try await client.resource(apiVersion: "v1", kind: "PersistentVolumeClaim")
        let selectorLabels = spec["selector"]?["matchLabels"]?.stringMap ?? [:]
        let owner = OwnerReference(
            apiVersion: "apps/v1", kind: "StatefulSet", name: name, uid: uid, controller: true, blockOwnerDeletion: true)
        var ready = 0
        for ordinal in 0..<replicas {
            let podName = "\(name)-\(ordinal)"
            var volumes = spec["template"]?["spec"]?["volumes"]?.arrayValue ?? []
            for template in spec["volumeClaimTemplates"]?.arrayValue ?? [] {
                let templateName = template["metadata"]?["name"]?.stringValue ?? "data"
                let claimName = "\(templateName)-\(podName)"
                var claim = KubeObject(apiVersion: "v1", kind: "PersistentVolumeClaim", namespace: namespace, name: claimName)
                let labels = (template["metadata"]?["labels"]?.stringMap ?? [:]).merging(selectorLabels) { $1 }
                claim.json.setValue(JSONValue(stringMap: labels), at: ["metadata", "labels"])
                claim.json["spec"] = template["spec"] ?? [:]
                try await createIfAbsent(claims, claim)
                volumes.append(["name": .string(templateName), "persistentVolumeClaim": ["claimName": .string(claimName)]])
            }
            var pod = KubeObject(apiVersion: "v1", kind: "Pod", namespace: namespace, name: podName)
            var labels = spec["template"]?["metadata"]?["labels"]?.stringMap ?? [:]
            labels["statefulset.kubernetes.io/pod-name"] = podName
            labels["apps.kubernetes.io/pod-index"] = String(ordinal)
            pod.json.setValue(JSONValue(stringMap: labels), at: ["metadata", "labels"])
            if let annotations = spec["template"]?["metadata"]?["annotations"] {
                pod.json.setValue(annotations, at: ["metadata", "annotations"])
            }
            pod.json.setValue([owner.json], at: ["metadata", "ownerReferences"])
            var podSpec = spec["template"]?["spec"] ?? [:]
            podSpec["volumes"] = .array(volumes)
            podSpec["hostname"] = .string(podName)
            if let service = spec["serviceName"] { podSpec["subdomain"] = service }
            pod.json["spec"] = podSpec
            try await createIfAbsent(pods, pod)
            let current = try? await client.get(pods, namespace: namespace, name: podName)
            let conditions = current?["status"]?["conditions"]?.arrayValue ?? []
            if conditions.contains(where: { $0["type"] == "Ready" && $0["status"] == "True" }) { ready += 1 }
        }
        var status = set["status"] ?? [:]
        let wanted: [String: JSONValue] = [
            "observedGeneration": .int(set.generation ?? 1), "replicas": .int(Int64(replicas)), "readyReplicas": .int(Int64(ready)),
            "availableReplicas": .int(Int64(ready)), "currentReplicas": .int(Int64(replicas)), "updatedReplicas": .int(Int64(replicas)),
        ]
        guard wanted.contains(where: { status[$0.key] != $0.value }) else { return }
        for (key, value) in wanted { status[key] = value }
        var updated = set
        updated.json["status"] = status
        // On a conflict the set changed meanwhile: its event reconciles it again.
        _ = try? await client.updateStatus(sets, updated)
    }

    func createIfAbsent(_ resource: APIResource, _ object: KubeObject) async throws {
        if try await client.createIfAbsent(resource, object) { log("created \(object.kind) \(object.namespace ?? "")/\(object.name)") }
    }
}
