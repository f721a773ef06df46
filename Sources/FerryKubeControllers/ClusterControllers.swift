import FerryKube
import Foundation

/// What a cluster's control plane and kubelets do that an API server alone does not, played for
/// a cluster in a box (`ferry-testkube --nodes`, scripts/e2e.sh) on this one host: a StatefulSet
/// controller, a scheduler, a provisioner of local volumes (a loop device for a Block claim, a
/// directory for a Filesystem one) and the nodes' kubelets (pods marked Running once their claims
/// are bound, their volumes laid out under the kubelet directory as a kubelet lays them out).
/// Containers are not run: a pod's processes are whoever acts on its volumes (the script).
///
/// Each controller is a client of the API server like the real one: it watches, and writes what
/// it decides through the API (so authorization, admission and validation apply to it too).
public struct ClusterControllers: Sendable {
    public struct Options: Sendable {
        /// The nodes: Node objects are created for them; pods are scheduled on them.
        public var nodes: [String]
        /// Where provisioned volumes live: `<pv>.img` behind a loop device, or `<pv>/`.
        public var volumesDirectory: String
        /// The kubelet directory all the nodes share (pod uids keep them apart).
        public var kubeletRoot: String
        /// The provisioner name StorageClasses use to ask for these volumes.
        public var provisioner = LocalVolumeProvisioner.defaultName

        public init(nodes: [String], volumesDirectory: String, kubeletRoot: String) {
            self.nodes = nodes
            self.volumesDirectory = volumesDirectory
            self.kubeletRoot = kubeletRoot
        }
    }

    public let client: KubeClient
    public let options: Options
    let log: @Sendable (String) -> Void
    /// The loop devices attached for volumes: detached by `detachVolumes()`.
    public let loopDevices: LoopDevices

    public init(client: KubeClient, options: Options, log: @escaping @Sendable (String) -> Void) {
        self.client = client
        self.options = options
        self.log = log
        self.loopDevices = LoopDevices()
    }

    /// Creates the nodes, then runs every controller until cancelled.
    public func run() async throws {
        try FileManager.default.createDirectory(atPath: options.volumesDirectory, withIntermediateDirectories: true)
        for directory in ["pods", "plugins", "plugins_registry", "pod-resources"] {
            try FileManager.default.createDirectory(atPath: "\(options.kubeletRoot)/\(directory)", withIntermediateDirectories: true)
        }
        try await createNodes()
        let watcher = ResourceWatcher(client: client, log: log)
        let statefulSets = StatefulSetController(client: client, watcher: watcher, log: log)
        let placement = NodePlacement(client: client, nodes: options.nodes, provisioner: options.provisioner)
        let scheduler = Scheduler(client: client, watcher: watcher, placement: placement, log: log)
        let provisioner = LocalVolumeProvisioner(
            client: client, watcher: watcher, placement: placement, directory: options.volumesDirectory, loopDevices: loopDevices,
            log: log)
        let kubelet = Kubelet(client: client, watcher: watcher, nodes: Set(options.nodes), root: options.kubeletRoot, log: log)
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await statefulSets.run() }
            group.addTask { try await scheduler.run() }
            group.addTask { try await provisioner.run() }
            group.addTask { try await kubelet.run() }
            try await group.next()
            group.cancelAll()
        }
    }

    /// Detaches the loop devices this run attached (their backing files stay).
    public func detachVolumes() async { await loopDevices.detachAll() }

    func createNodes() async throws {
        let nodes = try await client.resource(apiVersion: "v1", kind: "Node")
        for name in options.nodes {
            var node = KubeObject(apiVersion: "v1", kind: "Node", name: name)
            node.json.setValue(
                .object(["kubernetes.io/hostname": .string(name), "kubernetes.io/os": "linux"]), at: ["metadata", "labels"])
            guard try await client.find(nodes, namespace: nil, name: name) == nil else { continue }
            node = try await client.create(nodes, node)
            node.json["status"] = [
                "conditions": [["type": "Ready", "status": "True", "reason": "KubeletReady", "lastHeartbeatTime": .string(Self.now())]],
                "addresses": [["type": "InternalIP", "address": "127.0.0.1"], ["type": "Hostname", "address": .string(name)]],
            ]
            _ = try await client.updateStatus(nodes, node)
        }
    }

    static func now() -> String { KubeTime.format(Date()) }
}
