import FerryKube
import Foundation

/// A dynamic provisioner of local volumes for claims of a StorageClass that names it: a Block
/// claim gets a sparse file of the requested size behind a loop device, a Filesystem claim a
/// directory; either becomes a `local` PersistentVolume pinned to a node (the scheduler's choice
/// for a class that waits for the first consumer, else the node with the fewest such volumes),
/// bound to the claim as the volume binder binds it. Volumes outlive their claims (Retain).
struct LocalVolumeProvisioner: Sendable {
    static let defaultName = "local.e2e.ferry.dev"

    let client: KubeClient
    let watcher: ResourceWatcher
    let placement: NodePlacement
    var name: String { placement.provisioner }
    let directory: String
    let loopDevices: LoopDevices
    let log: @Sendable (String) -> Void

    func run() async throws {
        try await watcher.watch(apiVersion: "v1", kind: "PersistentVolumeClaim") { event in
            switch event {
            case .added(let claim), .modified(let claim):
                guard claim.deletionTimestamp == nil, (claim["spec"]?["volumeName"]?.stringValue ?? "").isEmpty else { return }
                try await provision(claim)
            default:
                return
            }
        }
    }

    func provision(_ claim: KubeObject) async throws {
        let classes = try await client.resource(apiVersion: "storage.k8s.io/v1", kind: "StorageClass")
        // The API server's DefaultStorageClass admission named the default class on creation.
        guard let className = claim["spec"]?["storageClassName"]?.stringValue, !className.isEmpty,
            let storageClass = try? await client.get(classes, namespace: nil, name: className),
            storageClass["provisioner"]?.stringValue == name
        else { return }
        let node: String
        if let selected = claim.annotations[Scheduler.selectedNode] {
            node = selected
        } else if storageClass["volumeBindingMode"] == "WaitForFirstConsumer" {
            return // until a pod using it is scheduled
        } else {
            node = try await placement.leastLoadedNode()
        }
        guard let uid = claim.uid, let request = claim["spec"]?["resources"]?["requests"]?["storage"]?.stringValue,
            let size = Quantity(request)?.value
        else {
            log("claim \(claim.namespace ?? "")/\(claim.name) has no uid or storage request; not provisioned")
            return
        }
        let pvName = "pvc-\(uid)"
        let block = claim["spec"]?["volumeMode"] == "Block"
        let volumes = try await client.resource(apiVersion: "v1", kind: "PersistentVolume")
        if try await client.find(volumes, namespace: nil, name: pvName) == nil {
            let path: String
            if block {
                path = try await attachFile("\(directory)/\(pvName).img", size: size)
            } else {
                path = try makeDirectory("\(directory)/\(pvName)")
            }
            var pv = KubeObject(apiVersion: "v1", kind: "PersistentVolume", name: pvName)
            pv.json.setValue(["pv.kubernetes.io/provisioned-by": .string(name)], at: ["metadata", "annotations"])
            pv.json["spec"] = [
                "capacity": ["storage": .string(request)],
                "volumeMode": block ? "Block" : "Filesystem",
                "accessModes": claim["spec"]?["accessModes"] ?? ["ReadWriteOnce"],
                "persistentVolumeReclaimPolicy": "Retain",
                "storageClassName": .string(className),
                "local": ["path": .string(path)],
                "claimRef": [
                    "apiVersion": "v1", "kind": "PersistentVolumeClaim", "namespace": .string(claim.namespace ?? ""),
                    "name": .string(claim.name), "uid": .string(uid),
                ],
                "nodeAffinity": [
                    "required": [
                        "nodeSelectorTerms": [
                            ["matchExpressions": [["key": "kubernetes.io/hostname", "operator": "In", "values": [.string(node)]]]]
                        ]
                    ]
                ],
            ]
            try await client.createIfAbsent(volumes, pv)
            pv = try await client.get(volumes, namespace: nil, name: pvName)
            pv.json["status"] = ["phase": "Bound"]
            _ = try await client.updateStatus(volumes, pv)
            log("provisioned \(pvName) at \(path) on \(node) for claim \(claim.namespace ?? "")/\(claim.name)")
        }
        let claims = try await client.resource(apiVersion: "v1", kind: "PersistentVolumeClaim")
        var bound = try await client.get(claims, namespace: claim.namespace, name: claim.name)
        bound.json.setValue(.string(pvName), at: ["spec", "volumeName"])
        bound.json.setValue("yes", at: ["metadata", "annotations", "pv.kubernetes.io/bind-completed"])
        bound = try await client.update(claims, bound)
        bound.json["status"] = [
            "phase": "Bound", "accessModes": claim["spec"]?["accessModes"] ?? ["ReadWriteOnce"],
            "capacity": ["storage": .string(request)],
        ]
        _ = try await client.updateStatus(claims, bound)
    }

    func attachFile(_ file: String, size: Int64) async throws -> String {
        if !FileManager.default.fileExists(atPath: file) {
            guard FileManager.default.createFile(atPath: file, contents: nil) else { throw ProvisionError.create(file) }
            let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: file))
            try handle.truncate(atOffset: UInt64(size))
            try handle.close()
        }
        return try await loopDevices.attach(file)
    }

    func makeDirectory(_ path: String) throws -> String {
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    enum ProvisionError: Error, CustomStringConvertible {
        case create(String)
        var description: String {
            switch self {
            case .create(let file): "cannot create the volume's file \(file)"
            }
        }
    }
}
