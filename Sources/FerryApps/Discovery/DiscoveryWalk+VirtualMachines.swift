import FerryKube

extension DiscoveryWalk {
    mutating func seedVirtualMachine(_ name: String) async throws(KubeError) {
        guard let resource = resource("kubevirt.io", "VirtualMachine") else {
            issues.insert(
                DiscoveryIssue(kind: .unknownKind, subject: "VirtualMachine \(name)", message: "KubeVirt (kubevirt.io) is not installed"))
            return
        }
        for namespace in searchNamespaces {
            if let namespace {
                if let vm = try await fetch(resource, namespace: namespace, name: name) {
                    include(vm, resource: resource, reason: .virtualMachine)
                }
            } else {
                for vm in try await cachedList(resource, namespace: nil) where vm.name == name {
                    include(vm, resource: resource, reason: .virtualMachine)
                }
            }
        }
    }

    /// KubeVirt rules for a selected VirtualMachine: its volumes' claims and DataVolumes,
    /// dataVolumeTemplates, instancetype and preference, the persistent-state claim, the Secrets
    /// it references, and where it runs (VMI node, virt-launcher pods) for volume facts.
    mutating func expandVirtualMachine(_ object: KubeObject) async throws(KubeError) {
        guard let vm = VirtualMachineView(object) else { return }
        let name = object.name
        let namespace = object.namespace
        for volume in vm.volumes {
            let reason = InclusionReason.virtualMachineVolume(vm: name, volume: volume.name)
            if let claim = volume.claimName {
                try await include(group: "", kind: "PersistentVolumeClaim", namespace: namespace, name: claim, reason: reason)
            }
            if let dataVolume = volume.dataVolumeName {
                try await include(group: "cdi.kubevirt.io", kind: "DataVolume", namespace: namespace, name: dataVolume, reason: reason)
                try await include(group: "", kind: "PersistentVolumeClaim", namespace: namespace, name: dataVolume, reason: reason)
            }
            for (use, secret) in volume.secrets.sorted(by: { $0.key < $1.key }) {
                try await include(
                    group: "", kind: "Secret", namespace: namespace, name: secret, reason: .secretOfVirtualMachine(vm: name, use: use))
            }
            if let configMap = volume.configMapName {
                try await include(group: "", kind: "ConfigMap", namespace: namespace, name: configMap, reason: reason)
            }
            if let account = volume.serviceAccountName {
                try await include(
                    group: "", kind: "ServiceAccount", namespace: namespace, name: account, reason: .serviceAccountOf(object.reference))
            }
        }
        for (use, secret) in vm.credentialSecrets {
            try await include(
                group: "", kind: "Secret", namespace: namespace, name: secret, reason: .secretOfVirtualMachine(vm: name, use: use))
        }
        for dataVolume in vm.dataVolumeTemplateNames {
            try await include(
                group: "cdi.kubevirt.io", kind: "DataVolume", namespace: namespace, name: dataVolume, reason: .dataVolumeTemplate(vm: name))
            try await include(
                group: "", kind: "PersistentVolumeClaim", namespace: namespace, name: dataVolume, reason: .dataVolumeTemplate(vm: name))
        }
        if let instancetype = vm.instancetype {
            try await include(
                group: "instancetype.kubevirt.io", kind: instancetype.kind, namespace: namespace, name: instancetype.name,
                reason: .virtualMachineInstancetype(vm: name))
        }
        if let preference = vm.preference {
            try await include(
                group: "instancetype.kubevirt.io", kind: preference.kind, namespace: namespace, name: preference.name,
                reason: .virtualMachinePreference(vm: name))
        }
        if let claims = resource("", "PersistentVolumeClaim") {
            for claim in try await cachedList(claims, namespace: namespace, labelSelector: "persistent-state-for=\(name)") {
                include(claim, resource: claims, reason: .persistentStateOf(vm: name))
            }
        }
        var node: String?
        if let instances = resource("kubevirt.io", "VirtualMachineInstance"),
            let vmi = try await fetch(instances, namespace: namespace, name: name, notFound: nil)
        {
            node = vmi["status"]?["nodeName"]?.stringValue
            dropped.insert(DroppedObject(reference: vmi.reference, why: "started by its VirtualMachine \(name)"))
        }
        var launchers: [KubeObject] = []
        if let pods = resource("", "Pod") {
            launchers = try await cachedList(pods, namespace: namespace, labelSelector: "kubevirt.io=virt-launcher")
                .filter { $0.labels["vm.kubevirt.io/name"] == name || $0.labels["kubevirt.io/vm"] == name }
            if node == nil { node = launchers.compactMap { $0["spec"]?["nodeName"]?.stringValue }.first }
        }
        vmRuntime[object.reference] = (node, launchers)
    }
}
