/// A pod spec as Ferry reads it: from a Pod, or from the pod template of a workload
/// (Deployment, StatefulSet, DaemonSet, ReplicaSet, Job, CronJob, ReplicationController).
public struct PodSpecView: Sendable {
    /// One entry of `volumes` and the sources Ferry follows.
    public struct Volume: Sendable, Hashable {
        public var name: String
        public var claimName: String?
        public var configMapName: String?
        public var secretName: String?

        public init(name: String, claimName: String? = nil, configMapName: String? = nil, secretName: String? = nil) {
            self.name = name
            self.claimName = claimName
            self.configMapName = configMapName
            self.secretName = secretName
        }
    }

    public let spec: JSONValue

    public init(spec: JSONValue) {
        self.spec = spec
    }

    /// The pod spec of `object`, or nil when it has none.
    public init?(of object: KubeObject) {
        let spec: JSONValue?
        switch (object.groupVersion.group, object.kind) {
        case ("", "Pod"): spec = object["spec"]
        case ("apps", "Deployment"), ("apps", "StatefulSet"), ("apps", "DaemonSet"), ("apps", "ReplicaSet"),
            ("batch", "Job"), ("", "ReplicationController"):
            spec = object["spec"]?["template"]?["spec"]
        case ("batch", "CronJob"): spec = object["spec"]?["jobTemplate"]?["spec"]?["template"]?["spec"]
        default: spec = nil
        }
        guard let spec else { return nil }
        self.spec = spec
    }

    public var volumes: [Volume] {
        (spec["volumes"]?.arrayValue ?? []).map { volume in
            Volume(
                name: volume["name"]?.stringValue ?? "",
                claimName: volume["persistentVolumeClaim"]?["claimName"]?.stringValue,
                configMapName: volume["configMap"]?["name"]?.stringValue,
                secretName: volume["secret"]?["secretName"]?.stringValue)
        }
    }

    /// The service account, when one other than `default` is named.
    public var serviceAccountName: String? {
        guard let name = spec["serviceAccountName"]?.stringValue ?? spec["serviceAccount"]?.stringValue,
            !name.isEmpty, name != "default"
        else { return nil }
        return name
    }

    public var nodeName: String? { spec["nodeName"]?.stringValue }
}
