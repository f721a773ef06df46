import FerryKube

extension DiscoveryWalk {
    mutating func seedVirtualMachine(_ name: String) async throws(KubeError) {
        guard let resource = resource("kubevirt.io", "VirtualMachine") else {
            issues.insert(DiscoveryIssue(kind: .unknownKind, subject: "VirtualMachine \(name)", message: "KubeVirt (kubevirt.io) is not installed"))
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
    mutating func expandVirtualMachine(_ vm: KubeObject) async throws(KubeError) {
        let name = vm.name
        let namespace = vm.namespace
        let spec = vm["spec"]?["template"]?["spec"] ?? [:]
        for volume in spec["volumes"]?.arrayValue ?? [] {
            let volumeName = volume["name"]?.stringValue ?? ""
            let reason = InclusionReason.virtualMachineVolume(vm: name, volume: volumeName)
            if let claim = volume["persistentVolumeClaim"]?["claimName"]?.stringValue {
                try await include(group: "", kind: "PersistentVolumeClaim", namespace: namespace, name: claim, reason: reason)
            }
            if let dataVolume = volume["dataVolume"]?["name"]?.stringValue {
                try await include(group: "cdi.kubevirt.io", kind: "DataVolume", namespace: namespace, name: dataVolume, reason: reason)
                try await include(group: "", kind: "PersistentVolumeClaim", namespace: namespace, name: dataVolume, reason: reason)
            }
            for source in ["cloudInitNoCloud", "cloudInitConfigDrive"] {
                for key in ["secretRef", "networkDataSecretRef"] {
                    if let secret = volume[source]?[key]?["name"]?.stringValue {
                        try await include(group: "", kind: "Secret", namespace: namespace, name: secret, reason: .secretOfVirtualMachine(vm: name, use: "\(source) \(key)"))
                    }
                }
            }
            if let secret = volume["secret"]?["secretName"]?.stringValue {
                try await include(group: "", kind: "Secret", namespace: namespace, name: secret, reason: .secretOfVirtualMachine(vm: name, use: "secret volume \(volumeName)"))
            }
            if let configMap = volume["configMap"]?["name"]?.stringValue {
                try await include(group: "", kind: "ConfigMap", namespace: namespace, name: configMap, reason: reason)
            }
            if let account = volume["serviceAccount"]?["serviceAccountName"]?.stringValue {
                try await include(group: "", kind: "ServiceAccount", namespace: namespace, name: account, reason: .serviceAccountOf(vm.reference))
            }
        }
        for credential in spec["accessCredentials"]?.arrayValue ?? [] {
            if let secret = credential["sshPublicKey"]?["source"]?["secret"]?["secretName"]?.stringValue {
                try await include(group: "", kind: "Secret", namespace: namespace, name: secret, reason: .secretOfVirtualMachine(vm: name, use: "SSH public keys"))
            }
            if let secret = credential["userPassword"]?["source"]?["secret"]?["secretName"]?.stringValue {
                try await include(group: "", kind: "Secret", namespace: namespace, name: secret, reason: .secretOfVirtualMachine(vm: name, use: "user passwords"))
            }
        }
        for template in vm["spec"]?["dataVolumeTemplates"]?.arrayValue ?? [] {
            guard let dataVolume = template["metadata"]?["name"]?.stringValue else { continue }
            try await include(group: "cdi.kubevirt.io", kind: "DataVolume", namespace: namespace, name: dataVolume, reason: .dataVolumeTemplate(vm: name))
            try await include(group: "", kind: "PersistentVolumeClaim", namespace: namespace, name: dataVolume, reason: .dataVolumeTemplate(vm: name))
        }
        if let instancetype = vm["spec"]?["instancetype"], let typeName = instancetype["name"]?.stringValue {
            let kind = instancetype["kind"]?.stringValue ?? "VirtualMachineClusterInstancetype"
            try await include(group: "instancetype.kubevirt.io", kind: kind, namespace: namespace, name: typeName, reason: .virtualMachineInstancetype(vm: name))
        }
        if let preference = vm["spec"]?["preference"], let preferenceName = preference["name"]?.stringValue {
            let kind = preference["kind"]?.stringValue ?? "VirtualMachineClusterPreference"
            try await include(group: "instancetype.kubevirt.io", kind: kind, namespace: namespace, name: preferenceName, reason: .virtualMachinePreference(vm: name))
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
        vmRuntime[vm.reference] = (node, launchers)
    }

    /// Claims a VirtualMachine's disks use (for volume facts).
    func claimNames(ofVirtualMachine vm: KubeObject) -> Set<String> {
        var names: Set<String> = []
        for volume in vm["spec"]?["template"]?["spec"]?["volumes"]?.arrayValue ?? [] {
            if let claim = volume["persistentVolumeClaim"]?["claimName"]?.stringValue { names.insert(claim) }
            if let dataVolume = volume["dataVolume"]?["name"]?.stringValue { names.insert(dataVolume) }
        }
        return names
    }
}
