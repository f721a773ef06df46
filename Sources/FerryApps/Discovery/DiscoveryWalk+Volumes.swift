import FerryKube

extension DiscoveryWalk {
    /// Facts for every selected claim: size, mode, provider, nodes, host paths, read method.
    mutating func volumeFacts() async throws(KubeError) -> [VolumeFacts] {
        let claims = components.values.filter { $0.reference.group == "" && $0.reference.kind == "PersistentVolumeClaim" }
            .sorted { $0.reference < $1.reference }
        guard !claims.isEmpty else { return [] }
        var snapshotClasses: [KubeObject] = []
        if let resource = resource("snapshot.storage.k8s.io", "VolumeSnapshotClass") {
            snapshotClasses = try await cachedList(resource, namespace: nil)
        }
        let virtualMachines = components.values.filter { $0.reference.group == "kubevirt.io" && $0.reference.kind == "VirtualMachine" }
        var result: [VolumeFacts] = []
        for component in claims {
            result.append(try await facts(of: component.object, snapshotClasses: snapshotClasses, virtualMachines: virtualMachines))
        }
        return result
    }

    mutating func facts(of object: KubeObject, snapshotClasses: [KubeObject], virtualMachines: [Component]) async throws(KubeError)
        -> VolumeFacts
    {
        guard let claim = PersistentVolumeClaimView(object) else { preconditionFailure("facts of a non-claim") }
        let namespace = object.namespace
        let volumeName = claim.volumeName
        var volume: PersistentVolumeView?
        if let volumeName {
            let reference = ObjectReference(group: "", kind: "PersistentVolume", namespace: nil, name: volumeName)
            if let component = components[reference] {
                volume = PersistentVolumeView(component.object)
            } else if let resource = resource("", "PersistentVolume"),
                let fetched = try await fetch(resource, namespace: nil, name: volumeName)
            {
                volume = PersistentVolumeView(fetched)
            }
        }
        let mode: VolumeFacts.Mode = (volume?.volumeMode ?? claim.volumeMode) == "Block" ? .block : .filesystem
        let sizeText = claim.capacity ?? volume?.capacity ?? claim.requestedStorage
        let driver = volume?.csiDriver
        let storageClass = claim.storageClassName ?? volume?.storageClassName
        let snapshotClass = driver.flatMap { VolumeFacts.snapshotClass(forDriver: $0, among: snapshotClasses) }
        // Who uses the claim: pods (running ones give nodes and kubelet paths) and VMs.
        var usedBy: [ObjectReference] = []
        var mounts: [(node: String, podUID: String)] = []
        if let pods = resource("", "Pod") {
            for pod in try await cachedList(pods, namespace: namespace) {
                guard let spec = PodSpecView(of: pod), spec.volumes.contains(where: { $0.claimName == object.name }) else { continue }
                usedBy.append(pod.reference)
                let phase = pod["status"]?["phase"]?.stringValue ?? ""
                if let node = spec.nodeName, let uid = pod.uid, phase != "Succeeded" && phase != "Failed" {
                    mounts.append((node, uid))
                }
            }
        }
        var diskImage = false
        var nodes: [String] = []
        for vm in virtualMachines
        where vm.reference.namespace == namespace && VirtualMachineView(vm.object)?.diskClaims.contains(object.name) == true {
            usedBy.append(vm.reference)
            diskImage = true
            if let node = vmRuntime[vm.reference]?.node { nodes.append(node) }
        }
        // Local and hostPath volumes name their nodes and paths directly.
        var hostPaths: [VolumeFacts.HostPath] = []
        let affinityNodes = volume?.affinityHostnames ?? []
        nodes += affinityNodes
        let podNodes = mounts.map(\.node)
        nodes += podNodes
        let fileName = diskImage && mode == .filesystem ? "/disk.img" : ""
        if let local = volume?.localPath {
            for node in affinityNodes {
                hostPaths.append(.init(node: node, path: local + fileName, kind: fileName.isEmpty ? .localVolume : .diskImage))
            }
        } else if let hostPath = volume?.hostPath {
            for node in Set(affinityNodes + podNodes).sorted() {
                hostPaths.append(.init(node: node, path: hostPath + fileName, kind: fileName.isEmpty ? .hostPathVolume : .diskImage))
            }
        } else if let volumeName {
            let plugin = driver != nil ? "kubernetes.io~csi" : nil
            if let plugin {
                for (node, podUID) in mounts {
                    if mode == .block {
                        hostPaths.append(
                            .init(
                                node: node, path: "\(options.kubeletRoot)/pods/\(podUID)/volumeDevices/\(plugin)/\(volumeName)",
                                kind: .podBlockDevice))
                    } else {
                        let mount = "\(options.kubeletRoot)/pods/\(podUID)/volumes/\(plugin)/\(volumeName)/mount"
                        hostPaths.append(.init(node: node, path: mount + fileName, kind: fileName.isEmpty ? .podVolumeMount : .diskImage))
                    }
                }
            }
        }
        hostPaths.sort()
        let method: VolumeFacts.ReadMethod
        if let driver, let snapshotClass {
            method = .csiSnapshot(snapshotClass: snapshotClass, driver: driver)
        } else if let first = hostPaths.first {
            method = .hostPath(node: first.node, path: first.path)
        } else if volumeName == nil {
            method = .unavailable("the claim is not bound to a volume")
        } else if volume == nil {
            method = .unavailable("its PersistentVolume \(volumeName!) could not be read")
        } else if let driver {
            method = .unavailable("no VolumeSnapshotClass for CSI driver \(driver) and no running pod mounts the volume")
        } else {
            method = .unavailable("the volume is neither CSI, local nor hostPath, and no running pod mounts it")
        }
        return VolumeFacts(
            claim: object.reference, volumeName: volumeName, sizeBytes: sizeText.flatMap { Quantity($0)?.value }, sizeText: sizeText,
            mode: mode, storageClass: storageClass, csiDriver: driver, volumeHandle: volume?.csiVolumeHandle,
            snapshotClass: snapshotClass, nodes: Array(Set(nodes)).sorted(), hostPaths: hostPaths,
            usedBy: usedBy.sorted(), readMethod: method)
    }
}
