import FerryKube

/// Why discovery included an object: the rule that found it and the object that led there.
public enum InclusionReason: Sendable, Hashable, Comparable, CustomStringConvertible {
    case helmManifest(release: String, revision: Int)
    case helmHook(release: String, revision: Int)
    case helmReleaseStorage(release: String, revision: Int)
    case operatorSubscription(String)
    case operatorClusterServiceVersion(subscription: String?)
    case operatorDeployment(installedBy: String)
    case operatorRBAC(serviceAccount: String)
    case operatorOwnedCRD(installedBy: String)
    case operatorCustomResource(crd: String)
    case operatorGroup(ObjectReference)
    case labelSelector(String)
    case inNamespace(String)
    case theNamespace
    case virtualMachine
    case virtualMachineVolume(vm: String, volume: String)
    case dataVolumeTemplate(vm: String)
    case virtualMachineInstancetype(vm: String)
    case virtualMachinePreference(vm: String)
    case persistentStateOf(vm: String)
    case secretOfVirtualMachine(vm: String, use: String)
    case definitionOf(ObjectReference)
    case claimOfWorkload(ObjectReference, volume: String)
    case statefulSetClaim(ObjectReference, template: String, ordinal: Int)
    case claimOfDataVolume(ObjectReference)
    case ownedBy(ObjectReference)
    case boundVolumeOf(ObjectReference)
    case storageClassOf(ObjectReference)
    case serviceAccountOf(ObjectReference)
    case bindsServiceAccount(ObjectReference)
    case roleOfBinding(ObjectReference)

    public var description: String {
        switch self {
        case .helmManifest(let release, let revision): return "in the manifest of Helm release \(release) (revision \(revision))"
        case .helmHook(let release, let revision): return "hook of Helm release \(release) (revision \(revision)) that still exists"
        case .helmReleaseStorage(let release, let revision): return "storage of Helm release \(release) revision \(revision)"
        case .operatorSubscription(let name): return "OLM Subscription \(name) of the operator"
        case .operatorClusterServiceVersion(let subscription?): return "ClusterServiceVersion installed by Subscription \(subscription)"
        case .operatorClusterServiceVersion(nil): return "the operator's ClusterServiceVersion"
        case .operatorDeployment(let by): return "operator Deployment installed by \(by)"
        case .operatorRBAC(let sa): return "RBAC of operator service account \(sa)"
        case .operatorOwnedCRD(let by): return "CRD owned by the operator (\(by))"
        case .operatorCustomResource(let crd): return "custom resource of the operator's CRD \(crd)"
        case .operatorGroup(let ref): return "OperatorGroup of \(ref)"
        case .labelSelector(let selector): return "matches label selector \(selector)"
        case .inNamespace(let namespace): return "in namespace \(namespace)"
        case .theNamespace: return "the namespace itself"
        case .virtualMachine: return "the VirtualMachine"
        case .virtualMachineVolume(let vm, let volume): return "volume \(volume) of VirtualMachine \(vm)"
        case .dataVolumeTemplate(let vm): return "dataVolumeTemplate of VirtualMachine \(vm)"
        case .virtualMachineInstancetype(let vm): return "instancetype of VirtualMachine \(vm)"
        case .virtualMachinePreference(let vm): return "preference of VirtualMachine \(vm)"
        case .persistentStateOf(let vm): return "persistent state (TPM/EFI) of VirtualMachine \(vm)"
        case .secretOfVirtualMachine(let vm, let use): return "\(use) of VirtualMachine \(vm)"
        case .definitionOf(let ref): return "CustomResourceDefinition of captured \(ref)"
        case .claimOfWorkload(let ref, let volume): return "claim of volume \(volume) of \(ref)"
        case .statefulSetClaim(let ref, let template, let ordinal):
            return "claim of volumeClaimTemplate \(template) of \(ref), ordinal \(ordinal)"
        case .claimOfDataVolume(let ref): return "claim populated by \(ref)"
        case .ownedBy(let ref): return "owned by \(ref)"
        case .boundVolumeOf(let ref): return "PersistentVolume bound to \(ref)"
        case .storageClassOf(let ref): return "StorageClass of \(ref)"
        case .serviceAccountOf(let ref): return "service account of \(ref)"
        case .bindsServiceAccount(let ref): return "binds \(ref)"
        case .roleOfBinding(let ref): return "role referenced by \(ref)"
        }
    }

    /// Whether the object belongs to the operator itself (restored first, then waited for).
    public var isOperatorMachinery: Bool {
        switch self {
        case .operatorSubscription, .operatorClusterServiceVersion, .operatorDeployment, .operatorRBAC, .operatorGroup:
            return true
        default:
            return false
        }
    }

    public static func < (a: InclusionReason, b: InclusionReason) -> Bool { a.description < b.description }
}
