import FerryKube
import Foundation

/// The kubelets of the box's nodes: a pod scheduled on one of them runs once every claim it uses
/// is bound (status Running and Ready, as the kubelet reports a started pod), with its local
/// volumes where a kubelet puts them: a Block volume's device linked at
/// `pods/<uid>/volumeDevices/kubernetes.io~local-volume/<pv>`, a Filesystem volume at
/// `pods/<uid>/volumes/kubernetes.io~local-volume/<pv>` (a link to the directory where a kubelet
/// bind-mounts it). No container is started.
struct Kubelet: Sendable {
    let client: KubeClient
    let watcher: ResourceWatcher
    let nodes: Set<String>
    let root: String
    let log: @Sendable (String) -> Void

    func run() async throws {
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                try await watcher.watch(apiVersion: "v1", kind: "Pod") { event in
                    guard case let pod? = event.object, !event.isDeletion else { return }
                    try await start(pod)
                }
            }
            // A pod waiting for a claim starts when the claim is bound.
            group.addTask {
                try await watcher.watch(apiVersion: "v1", kind: "PersistentVolumeClaim") { event in
                    guard case .modified(let claim) = event, claim["status"]?["phase"] == "Bound" else { return }
                    let pods = try await client.resource(apiVersion: "v1", kind: "Pod")
                    for pod in try await client.listAll(pods, namespace: claim.namespace) where uses(pod, claim: claim.name) {
                        try await start(pod)
                    }
                }
            }
            try await group.next()
            group.cancelAll()
        }
    }

    func uses(_ pod: KubeObject, claim: String) -> Bool {
        (pod["spec"]?["volumes"]?.arrayValue ?? []).contains { $0["persistentVolumeClaim"]?["claimName"]?.stringValue == claim }
    }

    func start(_ pod: KubeObject) async throws {
        let phase = pod["status"]?["phase"]?.stringValue ?? "Pending"
        guard pod.deletionTimestamp == nil, phase == "Pending", let node = pod["spec"]?["nodeName"]?.stringValue, nodes.contains(node),
            let uid = pod.uid
        else { return }
        let namespace = pod.namespace ?? ""
        let claims = try await client.resource(apiVersion: "v1", kind: "PersistentVolumeClaim")
        let volumes = try await client.resource(apiVersion: "v1", kind: "PersistentVolume")
        let devices = Set(
            (pod["spec"]?["containers"]?.arrayValue ?? []).flatMap { $0["volumeDevices"]?.arrayValue ?? [] }
                .compactMap { $0["name"]?.stringValue })
        for volume in pod["spec"]?["volumes"]?.arrayValue ?? [] {
            guard let claimName = volume["persistentVolumeClaim"]?["claimName"]?.stringValue else { continue }
            let claim = try await client.get(claims, namespace: namespace, name: claimName)
            guard let pvName = claim["spec"]?["volumeName"]?.stringValue, !pvName.isEmpty, claim["status"]?["phase"] == "Bound"
            else { return } // not yet: the claim's binding starts it
            let pv = try await client.get(volumes, namespace: nil, name: pvName)
            guard let local = PersistentVolumeView(pv)?.localPath else { continue }
            let block = devices.contains(volume["name"]?.stringValue ?? "")
            let link = "\(root)/pods/\(uid)/\(block ? "volumeDevices" : "volumes")/kubernetes.io~local-volume/\(pvName)"
            try FileManager.default.createDirectory(
                atPath: (link as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
            if (try? FileManager.default.destinationOfSymbolicLink(atPath: link)) != local {
                try? FileManager.default.removeItem(atPath: link)
                try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: local)
            }
        }
        let now = ClusterControllers.now()
        let containers = pod["spec"]?["containers"]?.arrayValue ?? []
        var running = pod
        running.json["status"] = [
            "phase": "Running", "hostIP": "127.0.0.1", "podIP": "127.0.0.1", "podIPs": [["ip": "127.0.0.1"]], "startTime": .string(now),
            "qosClass": "BestEffort",
            "conditions": .array(
                ["PodScheduled", "Initialized", "ContainersReady", "Ready"].map {
                    ["type": .string($0), "status": "True", "lastTransitionTime": .string(now)]
                }),
            "containerStatuses": .array(
                containers.map {
                    [
                        "name": $0["name"] ?? "", "image": $0["image"] ?? "", "imageID": "", "ready": true, "started": true,
                        "restartCount": 0, "state": ["running": ["startedAt": .string(now)]],
                    ]
                }),
        ]
        let pods = try await client.resource(apiVersion: "v1", kind: "Pod")
        // On a conflict a newer version of the pod is on its way through the watch.
        if (try? await client.updateStatus(pods, running)) != nil { log("pod \(namespace)/\(pod.name) running on \(node)") }
    }
}
