import FerryKube
import Foundation

/// The scheduler's placement, for the box's nodes: a pod whose claims are bound to volumes pinned
/// to a node goes to that node; otherwise to the node with the fewest of the provisioner's
/// volumes, and its claims that wait for their first consumer are told that node
/// (`volume.kubernetes.io/selected-node`) so the provisioner creates their volumes there.
/// Resources, taints and affinities are not considered.
struct Scheduler: Sendable {
    static let selectedNode = "volume.kubernetes.io/selected-node"

    let client: KubeClient
    let watcher: ResourceWatcher
    let placement: NodePlacement
    let log: @Sendable (String) -> Void

    func run() async throws {
        try await watcher.watch(apiVersion: "v1", kind: "Pod") { event in
            guard case .added(let pod) = event, pod.deletionTimestamp == nil,
                (pod["spec"]?["nodeName"]?.stringValue ?? "").isEmpty
            else { return }
            try await schedule(pod)
        }
    }

    func schedule(_ pod: KubeObject) async throws {
        let namespace = pod.namespace ?? ""
        let claimsResource = try await client.resource(apiVersion: "v1", kind: "PersistentVolumeClaim")
        let volumesResource = try await client.resource(apiVersion: "v1", kind: "PersistentVolume")
        var pinned: String?
        var waiting: [KubeObject] = []
        for volume in pod["spec"]?["volumes"]?.arrayValue ?? [] {
            guard let claimName = volume["persistentVolumeClaim"]?["claimName"]?.stringValue else { continue }
            guard let claim = try? await client.get(claimsResource, namespace: namespace, name: claimName) else { continue }
            if let bound = claim["spec"]?["volumeName"]?.stringValue, !bound.isEmpty,
                let pv = try? await client.get(volumesResource, namespace: nil, name: bound),
                let node = PersistentVolumeView(pv)?.affinityHostnames.first(where: placement.nodes.contains)
            {
                pinned = node
            } else {
                waiting.append(claim)
            }
        }
        let node: String
        if let pinned {
            node = pinned
        } else {
            node = try await placement.leastLoadedNode()
        }
        for var claim in waiting where claim.annotations[Self.selectedNode] == nil {
            claim.json.setValue(.string(node), at: ["metadata", "annotations", Self.selectedNode])
            _ = try await client.update(claimsResource, claim)
        }
        var scheduled = pod
        scheduled.json.setValue(.string(node), at: ["spec", "nodeName"])
        let pods = try await client.resource(apiVersion: "v1", kind: "Pod")
        _ = try await client.update(pods, scheduled)
        log("scheduled pod \(namespace)/\(pod.name) on \(node)")
    }
}
