/// The fields of a KubeVirt VirtualMachine that Ferry follows: disks (claims, DataVolumes),
/// DataVolume templates, instancetype and preference, and the Secrets it references.
public struct VirtualMachineView: Sendable {
    /// One `spec.template.spec.volumes` entry.
    public struct Volume: Sendable, Hashable {
        public var name: String
        public var claimName: String?
        public var dataVolumeName: String?
        /// Secrets by use (`cloudInitNoCloud secretRef`, `secret volume x`).
        public var secrets: [String: String]
        public var configMapName: String?
        public var serviceAccountName: String?

        /// The claim holding this disk's data (a DataVolume's claim has its name).
        public var diskClaim: String? { claimName ?? dataVolumeName }
    }

    /// `kind`/`name` of an instancetype or preference reference.
    public struct Reference: Sendable, Hashable {
        public var kind: String
        public var name: String

        public init(kind: String, name: String) {
            self.kind = kind
            self.name = name
        }
    }

    public let object: KubeObject

    public init?(_ object: KubeObject) {
        guard object.kind == "VirtualMachine", object.groupVersion.group == "kubevirt.io" else { return nil }
        self.object = object
    }

    var templateSpec: JSONValue { object["spec"]?["template"]?["spec"] ?? [:] }

    public var volumes: [Volume] {
        (templateSpec["volumes"]?.arrayValue ?? []).map { volume in
            let name = volume["name"]?.stringValue ?? ""
            var secrets: [String: String] = [:]
            for source in ["cloudInitNoCloud", "cloudInitConfigDrive"] {
                for key in ["secretRef", "networkDataSecretRef"] {
                    if let secret = volume[source]?[key]?["name"]?.stringValue { secrets["\(source) \(key)"] = secret }
                }
            }
            if let secret = volume["secret"]?["secretName"]?.stringValue { secrets["secret volume \(name)"] = secret }
            return Volume(
                name: name, claimName: volume["persistentVolumeClaim"]?["claimName"]?.stringValue,
                dataVolumeName: volume["dataVolume"]?["name"]?.stringValue, secrets: secrets,
                configMapName: volume["configMap"]?["name"]?.stringValue,
                serviceAccountName: volume["serviceAccount"]?["serviceAccountName"]?.stringValue)
        }
    }

    /// Names of the DataVolumes `spec.dataVolumeTemplates` creates.
    public var dataVolumeTemplateNames: [String] {
        (object["spec"]?["dataVolumeTemplates"]?.arrayValue ?? []).compactMap { $0["metadata"]?["name"]?.stringValue }
    }

    /// The instancetype (cluster-scoped kind by default, as KubeVirt defaults it).
    public var instancetype: Reference? {
        guard let name = object["spec"]?["instancetype"]?["name"]?.stringValue else { return nil }
        return Reference(kind: object["spec"]?["instancetype"]?["kind"]?.stringValue ?? "VirtualMachineClusterInstancetype", name: name)
    }

    public var preference: Reference? {
        guard let name = object["spec"]?["preference"]?["name"]?.stringValue else { return nil }
        return Reference(kind: object["spec"]?["preference"]?["kind"]?.stringValue ?? "VirtualMachineClusterPreference", name: name)
    }

    /// Secrets of `accessCredentials`, by use.
    public var credentialSecrets: [(use: String, name: String)] {
        var result: [(String, String)] = []
        for credential in templateSpec["accessCredentials"]?.arrayValue ?? [] {
            if let secret = credential["sshPublicKey"]?["source"]?["secret"]?["secretName"]?.stringValue {
                result.append(("SSH public keys", secret))
            }
            if let secret = credential["userPassword"]?["source"]?["secret"]?["secretName"]?.stringValue {
                result.append(("user passwords", secret))
            }
        }
        return result
    }

    /// Claims holding the VM's disks.
    public var diskClaims: Set<String> { Set(volumes.compactMap(\.diskClaim)) }
}
