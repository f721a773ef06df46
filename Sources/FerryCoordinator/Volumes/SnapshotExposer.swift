import FerryAPI
import FerryApps
import FerryKube
import Foundation

/// Makes a CSI volume readable by an agent at a point in time: a VolumeSnapshot of the claim
/// (all of a Backup's snapshots are requested before any is waited for, so they are taken close
/// together), then a claim restored from it and a pause pod that uses it, so the kubelet attaches
/// the snapshot's copy on some node; the agent there reads the kubelet's device (or, for a
/// filesystem volume holding a KubeVirt disk, the `disk.img` in its mount). The claim and the pod
/// are removed when the Backup is done. When the driver has a SnapshotMetadata service the
/// snapshot of a stored volume is kept as the base of the next backup's delta and
/// the base before it goes; otherwise the snapshot goes too.
struct SnapshotExposer: Sendable {
    struct Options: Sendable {
        /// The image of the pause pod (Ferry's own: `ferry pause`).
        var image: String
        var kubeletRoot = "/var/lib/kubelet"
        /// How long a snapshot may take to become ready, and the exposing pod to run.
        var timeout: Duration = .seconds(600)
        var poll: Duration = .milliseconds(500)
        /// Tries of each removal of exposure objects before it is reported.
        var cleanupAttempts = 4
    }

    let client: KubeClient
    let options: Options
    let log: @Sendable (String) -> Void

    /// Requests the VolumeSnapshot of a claim. It belongs to the plan: kept as a base of the next
    /// delta, it goes when the plan does.
    func snapshot(
        _ volume: VolumeFacts, snapshotClass: String, name: String, namespace: String, owner: ExposureOwner, plan: KubeObject,
        chain: String
    ) async throws(ClusterError) {
        var snapshot = KubeObject(apiVersion: "snapshot.storage.k8s.io/v1", kind: "VolumeSnapshot", namespace: namespace, name: name)
        snapshot.json["spec"] = [
            "volumeSnapshotClassName": .string(snapshotClass), "source": ["persistentVolumeClaimName": .string(volume.claim.name)],
        ]
        snapshot.json.setValue([FerryLabels.exposes: .string(owner.label)], at: ["metadata", "labels"])
        snapshot.json.setValue(
            [FerryLabels.snapshotNameAnnotation: .string(chain), FerryLabels.backupAnnotation: .string(owner.description)],
            at: ["metadata", "annotations"])
        if let uid = plan.uid {
            snapshot.json.setValue(
                [OwnerReference(apiVersion: FerryKind.apiVersion, kind: plan.kind, name: plan.name, uid: uid).json],
                at: ["metadata", "ownerReferences"])
        }
        try await createIfAbsent(snapshot)
    }

    /// Waits until the snapshot has been cut (its `creationTime` is set, or it is ready), or has
    /// failed or timed out: what a guest freeze waits for before the thaw.
    func waitUntilCut(_ name: String, namespace: String) async {
        _ = try? await waitFor(
            "VolumeSnapshot \(namespace)/\(name) to be cut", apiVersion: "snapshot.storage.k8s.io/v1", kind: "VolumeSnapshot",
            namespace: namespace, name: name
        ) { object in
            object["status"]?["creationTime"] != nil || object["status"]?["readyToUse"]?.boolValue == true
                || object["status"]?["error"] != nil
        }
    }

    /// Waits until the VolumeSnapshot is ready to use; its error, when it reports one, is thrown.
    func waitUntilReady(_ name: String, namespace: String) async throws(ClusterError) -> KubeObject {
        try await waitFor(
            "VolumeSnapshot \(namespace)/\(name) to be ready", apiVersion: "snapshot.storage.k8s.io/v1",
            kind: "VolumeSnapshot", namespace: namespace, name: name
        ) { object in
            if let message = object["status"]?["error"]?["message"]?.stringValue {
                throw ClusterError.exposure("VolumeSnapshot \(namespace)/\(name): \(message)")
            }
            return object["status"]?["readyToUse"]?.boolValue == true
        }
    }

    /// Waits for the snapshot `name` and exposes it once for each of `units` (a volume read in
    /// ranges is exposed once per range, each copy wherever its pod is scheduled): claims and
    /// pods `name`, `name-1`, ... Returns the units, each with the node and path to read.
    func expose(_ volume: VolumeFacts, name: String, namespace: String, units: [VolumeTransferSpec], owner: ExposureOwner) async throws
        -> [VolumeTransferSpec]
    {
        let snapshot = try await waitUntilReady(name, namespace: namespace)
        let diskImage = volume.hostPaths.contains { $0.kind == .diskImage }
        // A file system holding a KubeVirt disk is mounted to read `disk.img`; any other file
        // system is read as the block device under it, which the snapshot may then expose only
        // once its content allows the change of volume mode.
        let block = volume.mode == .block || !diskImage
        if volume.mode != .block && block {
            try await allowVolumeModeChange(of: snapshot)
        }
        let csi = await changeSource(of: snapshot, namespace: namespace, owner: owner)
        var claimSpec: JSONValue = [
            "accessModes": ["ReadWriteOnce"], "volumeMode": .string(block ? "Block" : volume.mode.rawValue),
            "dataSource": ["apiGroup": "snapshot.storage.k8s.io", "kind": "VolumeSnapshot", "name": .string(name)],
            "resources": [
                "requests": ["storage": snapshot["status"]?["restoreSize"] ?? .string(volume.sizeText ?? "\(volume.sizeBytes ?? 0)")]
            ],
        ]
        if let storageClass = volume.storageClass { claimSpec["storageClassName"] = .string(storageClass) }
        let spec = claimSpec
        return try await withThrowingTaskGroup(of: (Int, VolumeTransferSpec).self) { group in
            for (index, unit) in units.enumerated() {
                let exposure = index == 0 ? name : "\(name)-\(index)"
                group.addTask {
                    var claim = KubeObject(apiVersion: "v1", kind: "PersistentVolumeClaim", namespace: namespace, name: exposure)
                    claim.json["spec"] = spec
                    claim.json.setValue([FerryLabels.exposes: .string(owner.label)], at: ["metadata", "labels"])
                    try await createIfAbsent(claim)
                    let (node, path) = try await attach(
                        claim: exposure, podName: exposure, namespace: namespace, block: block,
                        diskImage: diskImage && !block, writable: false, owner: owner)
                    var exposed = unit
                    exposed.node = node
                    exposed.source.path = path
                    exposed.attached = true
                    exposed.csi = csi
                    log(
                        """
                        Backup \(owner.description): snapshot of \(volume.claim) \
                        exposed on node \(node)\(csi == nil ? "" : " (changes from the driver's SnapshotMetadata service)")
                        """
                    )
                    return (index, exposed)
                }
            }
            var exposed: [(Int, VolumeTransferSpec)] = []
            for try await unit in group { exposed.append(unit) }
            return exposed.sorted { $0.0 < $1.0 }.map(\.1)
        }
    }

    /// Marks the snapshot's content as one that may be restored into a claim of another volume
    /// mode (`snapshot.storage.kubernetes.io/allow-volume-mode-change`, KEP-3141): the snapshot
    /// controller refuses a Block claim from a Filesystem snapshot (and the reverse) otherwise.
    func allowVolumeModeChange(of snapshot: KubeObject) async throws(ClusterError) {
        guard let contentName = snapshot["status"]?["boundVolumeSnapshotContentName"]?.stringValue else {
            throw .exposure("\(snapshot.label) is ready but names no VolumeSnapshotContent")
        }
        do {
            let contents = try await client.resource(apiVersion: "snapshot.storage.k8s.io/v1", kind: "VolumeSnapshotContent")
            _ = try await client.patch(
                contents, namespace: nil, name: contentName, type: .merge,
                patch: ["metadata": ["annotations": [Self.allowModeChange: "true"]]])
        } catch {
            throw .kube(error)
        }
    }

    static let allowModeChange = "snapshot.storage.kubernetes.io/allow-volume-mode-change"

    /// Where the agent can ask what changed in this snapshot: the SnapshotMetadataService named
    /// after the snapshot's CSI driver, with the snapshot's handle. Nil when the cluster or the
    /// driver has none (the agent then compares every block with the parent).
    func changeSource(of snapshot: KubeObject, namespace: String, owner: ExposureOwner) async -> CSIChangeSource? {
        guard let contentName = snapshot["status"]?["boundVolumeSnapshotContentName"]?.stringValue else { return nil }
        do {
            let contents = try await client.resource(apiVersion: "snapshot.storage.k8s.io/v1", kind: "VolumeSnapshotContent")
            let content = try await client.get(contents, namespace: nil, name: contentName)
            guard let driver = content["spec"]?["driver"]?.stringValue, let handle = content["status"]?["snapshotHandle"]?.stringValue
            else { return nil }
            let services: APIResource
            do {
                services = try await client.resource(apiVersion: "cbt.storage.k8s.io/v1beta1", kind: "SnapshotMetadataService")
            } catch {
                return nil
            }
            let service = try await client.get(services, namespace: nil, name: driver)
            guard let address = service["spec"]?["address"]?.stringValue, let audience = service["spec"]?["audience"]?.stringValue else {
                log("Backup \(owner.description): SnapshotMetadataService \(driver) has no address or audience; comparing every block")
                return nil
            }
            return CSIChangeSource(
                address: address, caCert: service["spec"]?["caCert"]?.stringValue, audience: audience,
                namespace: namespace, snapshot: snapshot.name, snapshotHandle: handle)
        } catch .notFound {
            return nil
        } catch {
            log(
                """
                Backup \(owner.description): cannot look up the SnapshotMetadata service for \(snapshot.label): \(error); \
                comparing every block
                """
            )
            return nil
        }
    }

    /// The pause pod runs as nobody under the runtime's seccomp profile: with its container's
    /// context (no privilege escalation, no capabilities, read-only root) it passes the
    /// `restricted` Pod Security Standard, so applications' namespaces may enforce it.
    static let pauseSecurityContext: JSONValue = [
        "runAsNonRoot": true, "runAsUser": 65534, "runAsGroup": 65534, "seccompProfile": ["type": "RuntimeDefault"],
    ]

    /// Runs a pause pod that uses `claim`, so the kubelet attaches it on some node; returns the
    /// node and the host path of the data there (the block device, or `disk.img` in the mount).
    func attach(
        claim: String, podName: String, namespace: String, block: Bool, diskImage: Bool, writable: Bool,
        owner: ExposureOwner
    ) async throws(ClusterError) -> (node: String, path: String) {
        var pod = KubeObject(apiVersion: "v1", kind: "Pod", namespace: namespace, name: podName)
        let device: JSONValue =
            block
            ? ["volumeDevices": [["name": "data", "devicePath": "/dev/ferry-data"]]]
            : ["volumeMounts": [["name": "data", "mountPath": "/data", "readOnly": .bool(!writable)]]]
        let container: JSONValue = [
            "name": "pause", "image": .string(options.image), "args": ["pause"],
            "securityContext": ["allowPrivilegeEscalation": false, "readOnlyRootFilesystem": true, "capabilities": ["drop": ["ALL"]]],
            "resources": ["requests": ["cpu": "10m", "memory": "16Mi"], "limits": ["memory": "64Mi"]],
        ]
        let claimSource: JSONValue = ["claimName": .string(claim), "readOnly": .bool(!block && !writable)]
        let podVolume: JSONValue = ["name": "data", "persistentVolumeClaim": claimSource]
        pod.json["spec"] = [
            "restartPolicy": "Never", "securityContext": Self.pauseSecurityContext,
            "containers": .array([container.merging(device)]), "volumes": .array([podVolume]),
        ]
        pod.json.setValue([FerryLabels.exposes: .string(owner.label)], at: ["metadata", "labels"])
        try await createIfAbsent(pod)
        let running = try await waitFor(
            "pod \(namespace)/\(podName) using claim \(claim) to run", apiVersion: "v1", kind: "Pod", namespace: namespace, name: podName
        ) { object in
            if object["status"]?["phase"]?.stringValue == "Failed" { throw ClusterError.exposure("pod \(namespace)/\(podName) failed") }
            return object["status"]?["phase"]?.stringValue == "Running" && object["spec"]?["nodeName"]?.stringValue != nil
        }
        let bound = try await waitFor(
            "claim \(namespace)/\(claim) to be bound", apiVersion: "v1", kind: "PersistentVolumeClaim", namespace: namespace, name: claim
        ) { object in
            object["spec"]?["volumeName"]?.stringValue?.isEmpty == false
        }
        let node = running["spec"]?["nodeName"]?.stringValue ?? ""
        let pv = bound["spec"]?["volumeName"]?.stringValue ?? ""
        let volume = try await waitFor("volume \(pv)", apiVersion: "v1", kind: "PersistentVolume", namespace: "", name: pv) { _ in true }
        let path = Self.kubeletPath(
            root: options.kubeletRoot, podUID: running.uid ?? "", volume: PersistentVolumeView(volume), name: pv, block: block,
            diskImage: diskImage)
        return (node, path)
    }

    /// Where the kubelet puts a pod's volume: under the plugin that attached it. A CSI volume's
    /// file system is at `.../kubernetes.io~csi/<pv>/mount`; a local volume's is bind-mounted at
    /// `.../kubernetes.io~local-volume/<pv>` itself (a local provisioner binds claims that wait
    /// for their first consumer, restored ones among them).
    static func kubeletPath(root: String, podUID: String, volume: PersistentVolumeView?, name: String, block: Bool, diskImage: Bool)
        -> String
    {
        let (plugin, mountSuffix) =
            switch (volume?.localPath, volume?.hostPath) {
            case (.some, _): ("kubernetes.io~local-volume", "")
            case (nil, .some): ("kubernetes.io~host-path", "")
            case (nil, nil): ("kubernetes.io~csi", "/mount")
            }
        return block
            ? "\(root)/pods/\(podUID)/volumeDevices/\(plugin)/\(name)"
            : "\(root)/pods/\(podUID)/volumes/\(plugin)/\(name)\(mountSuffix)" + (diskImage ? "/disk.img" : "")
    }

    /// Removes what `snapshot` and `expose` created for a Backup (whatever exists of it), but for
    /// the VolumeSnapshots named in `keep`.
    /// (`namespace` nil: in every namespace.) Returns what could not be removed, with why;
    /// each removal is tried a few times first.
    @discardableResult
    func cleanup(namespace: String?, owner: ExposureOwner, keep: Set<String> = []) async -> [String] {
        var problems: [String] = []
        for (apiVersion, kind) in [("v1", "Pod"), ("v1", "PersistentVolumeClaim")] {
            problems += await delete(apiVersion: apiVersion, kind: kind, namespace: namespace, owner: owner)
        }
        problems += await delete(
            apiVersion: "snapshot.storage.k8s.io/v1", kind: "VolumeSnapshot", namespace: namespace, owner: owner, except: keep)
        return problems
    }

    /// Deletes the owner's VolumeSnapshots but those named in `keep` (after `cleanup` took the
    /// pods and claims); returns what could not be removed.
    @discardableResult
    func dropSnapshots(namespace: String, owner: ExposureOwner, except keep: Set<String>) async -> [String] {
        await delete(apiVersion: "snapshot.storage.k8s.io/v1", kind: "VolumeSnapshot", namespace: namespace, owner: owner, except: keep)
    }

    /// Deletes the VolumeSnapshots a Restore seeded claims from (a Restore that ends early);
    /// returns what could not be removed.
    func dropSeeds(namespace: String?, owner: ExposureOwner) async -> [String] {
        await delete(
            apiVersion: "snapshot.storage.k8s.io/v1", kind: "VolumeSnapshot", namespace: namespace, owner: owner, label: FerryLabels.seeds)
    }

    /// Deletes the owner's objects of a kind (already gone counts as deleted); a failure is tried
    /// again with a growing pause, and reported when it persists.
    private func delete(
        apiVersion: String, kind: String, namespace: String?, owner: ExposureOwner, except keep: Set<String> = [],
        label: String = FerryLabels.exposes
    ) async -> [String] {
        let what = "\(kind)s of \(owner.description) in \(namespace ?? "any namespace")"
        var lastError = ""
        for attempt in 0..<options.cleanupAttempts {
            if attempt > 0 { try? await Task.sleep(for: options.poll * (1 << attempt)) }
            do {
                let resource = try await client.resource(apiVersion: apiVersion, kind: kind)
                let objects = try await client.listAll(resource, namespace: namespace, labelSelector: "\(label)=\(owner.label)")
                var failed: [String] = []
                for object in objects where !keep.contains(object.name) {
                    do {
                        _ = try await client.delete(resource, namespace: object.namespace, name: object.name)
                    } catch .notFound {
                    } catch {
                        failed.append("\(object.label): \(error)")
                    }
                }
                guard !failed.isEmpty else { return [] }
                lastError = failed.joined(separator: "; ")
            } catch .unknownResource {
                return [] // the kind is not served: nothing of it was made
            } catch {
                lastError = "\(error)"
            }
        }
        log("cannot remove the \(what): \(lastError)")
        return ["could not remove the \(what): \(lastError); delete them by hand (label \(label)=\(owner.label))"]
    }

    /// Makes the Backup's VolumeSnapshots named in `bases` the bases of their claims' next deltas:
    /// the earlier bases of the same claim and chain are deleted (unless their Backup still runs).
    func replaceBases(namespace: String, owner: ExposureOwner, with bases: Set<String>) async {
        guard !bases.isEmpty, let snapshots = try? await client.resource(apiVersion: "snapshot.storage.k8s.io/v1", kind: "VolumeSnapshot"),
            let all = try? await client.listAll(snapshots, namespace: namespace, labelSelector: FerryLabels.exposes)
        else { return }
        let kept = all.filter { bases.contains($0.name) && $0.labels[FerryLabels.exposes] == owner.label }
        for old in all where old.labels[FerryLabels.exposes] != owner.label {
            let sameChain = kept.contains {
                $0.annotations[FerryLabels.snapshotNameAnnotation] == old.annotations[FerryLabels.snapshotNameAnnotation]
                    && $0["spec"]?["source"]?["persistentVolumeClaimName"] == old["spec"]?["source"]?["persistentVolumeClaimName"]
            }
            guard sameChain,
                await !isRunning(old.annotations[FerryLabels.backupAnnotation] ?? "\(namespace)/\(old.labels[FerryLabels.exposes] ?? "")")
            else { continue }
            do {
                _ = try await client.delete(snapshots, namespace: namespace, name: old.name)
                log("VolumeSnapshot \(namespace)/\(old.name): replaced as the base of the next delta; deleted")
            } catch {
                log("VolumeSnapshot \(namespace)/\(old.name): cannot delete the replaced base: \(error)")
            }
        }
    }

    /// Whether a Backup may still read its snapshots: it exists and has not finished (or the API
    /// cannot say).
    private func isRunning(_ backup: String) async -> Bool {
        let parts = backup.split(separator: "/", maxSplits: 1).map(String.init)
        guard parts.count == 2 else { return false }
        do {
            let backup = try await FerryClient(client).get(Backup.self, namespace: parts[0], name: parts[1], neededBy: "")
            return !backup.phase.isFinal
        } catch .missing {
            return false
        } catch {
            return true
        }
    }

    func createIfAbsent(_ object: KubeObject) async throws(ClusterError) {
        do {
            _ = try await client.create(try await client.resource(apiVersion: object.apiVersion, kind: object.kind), object)
        } catch {
            if case .alreadyExists = error { return }
            throw .kube(error)
        }
    }

    /// Polls an object until `ready` says so (or throws), up to the timeout.
    func waitFor(
        _ what: String, apiVersion: String, kind: String, namespace: String, name: String,
        ready: (KubeObject) throws -> Bool
    ) async throws(ClusterError) -> KubeObject {
        let deadline = ContinuousClock.now + options.timeout
        while true {
            do {
                let object = try await client.get(
                    try await client.resource(apiVersion: apiVersion, kind: kind), namespace: namespace, name: name)
                if try ready(object) { return object }
            } catch let error as ClusterError {
                throw error
            } catch let error as KubeError {
                if case .notFound = error {} else { throw .kube(error) }
            } catch {
                throw .exposure("\(error)")
            }
            guard ContinuousClock.now < deadline else { throw .timedOut(what: what, after: options.timeout) }
            try? await Task.sleep(for: options.poll)
        }
    }
}
