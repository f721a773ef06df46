import FerryKube

/// What an agent needs to know to read one volume: how big it is, its mode, who provides it,
/// where (on which node, at which host path) its data can be read, and the chosen method.
public struct VolumeFacts: Sendable, Hashable {
    public enum Mode: String, Sendable, Hashable {
        case filesystem = "Filesystem"
        case block = "Block"
    }

    /// One place on one node where the data is visible.
    public struct HostPath: Sendable, Hashable, Comparable {
        public enum Kind: String, Sendable, Hashable, Comparable {
            /// A local PersistentVolume's path (a directory, or a device for Block mode).
            case localVolume
            /// A hostPath PersistentVolume's path.
            case hostPathVolume
            /// The kubelet's mount of the volume for a pod (filesystem mode).
            case podVolumeMount
            /// The kubelet's block device map for a pod (block mode).
            case podBlockDevice
            /// A KubeVirt disk image file inside a filesystem-mode volume.
            case diskImage

            public static func < (a: Kind, b: Kind) -> Bool { a.rawValue < b.rawValue }
        }

        public var node: String
        public var path: String
        public var kind: Kind

        public init(node: String, path: String, kind: Kind) {
            self.node = node
            self.path = path
            self.kind = kind
        }

        public static func < (a: HostPath, b: HostPath) -> Bool { (a.node, a.path) < (b.node, b.path) }
    }

    /// How the data will be read, best option first.
    public enum ReadMethod: Sendable, Hashable, CustomStringConvertible {
        /// Take a CSI VolumeSnapshot with this class and read the snapshot where it is exposed.
        case csiSnapshot(snapshotClass: String, driver: String)
        /// Read a host path on a node (local/hostPath PV, or the kubelet's pod paths).
        case hostPath(node: String, path: String)
        /// No way found (reason given).
        case unavailable(String)

        public var description: String {
            switch self {
            case .csiSnapshot(let snapshotClass, let driver): return "CSI snapshot (class \(snapshotClass), driver \(driver))"
            case .hostPath(let node, let path): return "host path \(path) on node \(node)"
            case .unavailable(let reason): return "cannot be read: \(reason)"
            }
        }
    }

    public var claim: ObjectReference
    public var volumeName: String?
    /// Capacity in bytes (bound capacity, else the request).
    public var sizeBytes: Int64?
    public var sizeText: String?
    public var mode: Mode
    public var storageClass: String?
    public var csiDriver: String?
    public var volumeHandle: String?
    public var snapshotClass: String?
    /// Nodes that can read the volume (local PV affinity, nodes of pods that mount it).
    public var nodes: [String]
    public var hostPaths: [HostPath]
    /// Pods and VirtualMachines using the claim.
    public var usedBy: [ObjectReference]
    public var readMethod: ReadMethod
}

extension VolumeFacts {
    /// The VolumeSnapshotClass to snapshot a CSI driver's volumes with: its default class
    /// (`snapshot.storage.kubernetes.io/is-default-class`), else the first of its classes.
    public static func snapshotClass(forDriver driver: String, among classes: [KubeObject]) -> String? {
        let matching = classes.filter { $0["driver"]?.stringValue == driver }
        return (matching.first { $0.annotations["snapshot.storage.kubernetes.io/is-default-class"] == "true" } ?? matching.first)?.name
    }
}
