import FerryKube

/// The order in which captured resources are restored (design §5): definitions and namespaces
/// first, then the operator and what it needs (waited for until ready), admission webhooks only
/// after that, then configuration, data, services, custom resources, workloads, and VMs last.
public enum RestoreOrder {
    public enum Phase: Int, Sendable, Hashable, Comparable, CaseIterable, CustomStringConvertible {
        case customResourceDefinitions
        case namespaces
        case operatorPrerequisites
        case operatorInstallation
        case admissionWebhooks
        case serviceAccountsAndRBAC
        case configuration
        case storage
        case services
        case other
        case customResources
        case workloads
        case virtualMachines

        public static func < (a: Phase, b: Phase) -> Bool { a.rawValue < b.rawValue }

        public var description: String {
            switch self {
            case .customResourceDefinitions: return "CustomResourceDefinitions"
            case .namespaces: return "Namespaces"
            case .operatorPrerequisites: return "operator service accounts, RBAC, Secrets, ConfigMaps and Services"
            case .operatorInstallation: return "operator (wait until ready)"
            case .admissionWebhooks: return "admission webhook configurations"
            case .serviceAccountsAndRBAC: return "service accounts and RBAC"
            case .configuration: return "Secrets and ConfigMaps (including Helm release storage)"
            case .storage: return "storage classes, volumes and claims (data restored)"
            case .services: return "Services"
            case .other: return "other resources"
            case .customResources: return "custom resources"
            case .workloads: return "workloads"
            case .virtualMachines: return "VirtualMachines"
            }
        }

        /// A stable name for the phase, as recorded in a snapshot's resource catalog.
        public var identifier: String {
            switch self {
            case .customResourceDefinitions: return "crds"
            case .namespaces: return "namespaces"
            case .operatorPrerequisites: return "operatorPrerequisites"
            case .operatorInstallation: return "operator"
            case .admissionWebhooks: return "admissionWebhooks"
            case .serviceAccountsAndRBAC: return "rbac"
            case .configuration: return "configuration"
            case .storage: return "storage"
            case .services: return "services"
            case .other: return "other"
            case .customResources: return "customResources"
            case .workloads: return "workloads"
            case .virtualMachines: return "virtualMachines"
            }
        }

        public init?(identifier: String) {
            guard let phase = Self.allCases.first(where: { $0.identifier == identifier }) else { return nil }
            self = phase
        }

        /// Whether restore must wait for this phase's objects to become ready before going on.
        public var waitsUntilReady: Bool { self == .operatorInstallation || self == .customResourceDefinitions }
    }

    /// One phase and its components, in reference order.
    public struct Step: Sendable {
        public var phase: Phase
        public var components: [Component]
    }

    static let rbacKinds: Set<GroupKind> = [
        GroupKind(group: "", kind: "ServiceAccount"),
        GroupKind(group: "rbac.authorization.k8s.io", kind: "Role"),
        GroupKind(group: "rbac.authorization.k8s.io", kind: "ClusterRole"),
        GroupKind(group: "rbac.authorization.k8s.io", kind: "RoleBinding"),
        GroupKind(group: "rbac.authorization.k8s.io", kind: "ClusterRoleBinding"),
    ]
    static let configurationKinds: Set<GroupKind> = [
        GroupKind(group: "", kind: "Secret"), GroupKind(group: "", kind: "ConfigMap"),
    ]
    static let webhookKinds: Set<GroupKind> = [
        GroupKind(group: "admissionregistration.k8s.io", kind: "ValidatingWebhookConfiguration"),
        GroupKind(group: "admissionregistration.k8s.io", kind: "MutatingWebhookConfiguration"),
        GroupKind(group: "admissionregistration.k8s.io", kind: "ValidatingAdmissionPolicy"),
        GroupKind(group: "admissionregistration.k8s.io", kind: "ValidatingAdmissionPolicyBinding"),
    ]
    static let storageKinds: Set<GroupKind> = [
        GroupKind(group: "storage.k8s.io", kind: "StorageClass"),
        GroupKind(group: "", kind: "PersistentVolume"),
        GroupKind(group: "", kind: "PersistentVolumeClaim"),
        GroupKind(group: "cdi.kubevirt.io", kind: "DataVolume"),
    ]
    static let workloadKinds: Set<GroupKind> = [
        GroupKind(group: "apps", kind: "Deployment"), GroupKind(group: "apps", kind: "StatefulSet"),
        GroupKind(group: "apps", kind: "DaemonSet"), GroupKind(group: "apps", kind: "ReplicaSet"),
        GroupKind(group: "batch", kind: "Job"), GroupKind(group: "batch", kind: "CronJob"),
        GroupKind(group: "", kind: "Pod"), GroupKind(group: "", kind: "ReplicationController"),
    ]
    static let virtualMachineKinds: Set<GroupKind> = [
        GroupKind(group: "kubevirt.io", kind: "VirtualMachine"),
        GroupKind(group: "pool.kubevirt.io", kind: "VirtualMachinePool"),
    ]

    /// The phase a component is restored in.
    public static func phase(of component: Component) -> Phase {
        let kind = component.reference.groupKind
        if kind == GroupKind(group: "apiextensions.k8s.io", kind: "CustomResourceDefinition") { return .customResourceDefinitions }
        if kind == GroupKind(group: "", kind: "Namespace") { return .namespaces }
        if component.isOperatorMachinery {
            if rbacKinds.contains(kind) || configurationKinds.contains(kind) || kind == GroupKind(group: "", kind: "Service") {
                return .operatorPrerequisites
            }
            return .operatorInstallation
        }
        if webhookKinds.contains(kind) { return .admissionWebhooks }
        if rbacKinds.contains(kind) { return .serviceAccountsAndRBAC }
        if configurationKinds.contains(kind) { return .configuration }
        if storageKinds.contains(kind) { return .storage }
        if kind == GroupKind(group: "", kind: "Service") { return .services }
        if virtualMachineKinds.contains(kind) { return .virtualMachines }
        if workloadKinds.contains(kind) { return .workloads }
        if component.isCustomResource { return .customResources }
        return .other
    }

    /// The components in restore order, grouped by phase (empty phases omitted).
    public static func steps(for components: [Component]) -> [Step] {
        var byPhase: [Phase: [Component]] = [:]
        for component in components { byPhase[phase(of: component), default: []].append(component) }
        return Phase.allCases.compactMap { phase in
            guard let members = byPhase[phase], !members.isEmpty else { return nil }
            return Step(
                phase: phase,
                components: members.sorted {
                    (storageRank(kind: $0.reference.kind), $0.reference) < (storageRank(kind: $1.reference.kind), $1.reference)
                })
        }
    }

    /// Order within a phase: storage classes, volumes, claims, then the DataVolumes that adopt
    /// them; every other kind after those.
    public static func storageRank(kind: String) -> Int {
        switch kind {
        case "StorageClass": return 0
        case "PersistentVolume": return 1
        case "PersistentVolumeClaim": return 2
        case "DataVolume": return 3
        default: return 4
        }
    }
}
