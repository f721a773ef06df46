import FerryApps
import FerryKube
import FerryRepo

/// Which named components (Helm releases, VirtualMachines, claims) each object discovery found
/// belongs to, as recorded in the resource catalog for restores by component.
///
/// An object is the root of its own component when it is a VirtualMachine or a claim; it belongs
/// to a Helm release when the release's manifest, hooks or records name it (or, in a namespace
/// backup, when Helm's annotations on it do). It also belongs to every component of each object
/// that led discovery to it: a VirtualMachine's DataVolumes, claims, Secrets, instancetype and
/// preference; a DataVolume's claim; a claim's PersistentVolume and StorageClass; a workload's
/// claims; what an object owns; the CRD of a custom resource.
public enum ComponentMembership {
    public static func of(_ result: DiscoveryResult) -> [ObjectReference: Set<ApplicationComponent>] {
        let references = Set(result.components.map(\.reference))
        var machines: [String: [ObjectReference]] = [:]
        var releaseNamespaces: [String: Set<String>] = [:]
        for component in result.components {
            if component.reference.groupKind == virtualMachine {
                machines[component.reference.name, default: []].append(component.reference)
            }
            if HelmRelease.isStorageObject(component.object), let release = component.object.labels["name"],
                let namespace = component.reference.namespace
            {
                releaseNamespaces[release, default: []].insert(namespace)
            }
        }
        /// The namespace of release `name` for an object in `namespace`.
        func releaseNamespace(_ name: String, near namespace: String?) -> String? {
            let candidates = releaseNamespaces[name] ?? []
            if let namespace, candidates.contains(namespace) { return namespace }
            return candidates.count == 1 ? candidates.first : namespace
        }
        /// The VirtualMachine named `name` that led to an object in `namespace`.
        func machine(_ name: String, near namespace: String?) -> [ObjectReference] {
            let named = machines[name] ?? []
            guard let namespace else { return named }
            return named.filter { $0.namespace == namespace }
        }

        var membership: [ObjectReference: Set<ApplicationComponent>] = [:]
        var parents: [ObjectReference: Set<ObjectReference>] = [:]
        for component in result.components {
            let reference = component.reference
            let namespace = reference.namespace
            var own: Set<ApplicationComponent> = []
            if reference.groupKind == virtualMachine {
                own.insert(ApplicationComponent(kind: .virtualMachine, namespace: namespace, name: reference.name))
            }
            if reference.groupKind == claim { own.insert(ApplicationComponent(kind: .claim, namespace: namespace, name: reference.name)) }
            if HelmRelease.isStorageObject(component.object), let release = component.object.labels["name"] {
                own.insert(ApplicationComponent(kind: .helmRelease, namespace: namespace, name: release))
            }
            if let release = component.object.annotations["meta.helm.sh/release-name"] {
                let releaseNamespace =
                    component.object.annotations["meta.helm.sh/release-namespace"] ?? releaseNamespace(release, near: namespace)
                own.insert(ApplicationComponent(kind: .helmRelease, namespace: releaseNamespace, name: release))
            }
            var led: Set<ObjectReference> = []
            for reason in component.reasons {
                switch reason {
                case .helmManifest(let release, _), .helmHook(let release, _), .helmReleaseStorage(let release, _):
                    own.insert(
                        ApplicationComponent(kind: .helmRelease, namespace: releaseNamespace(release, near: namespace), name: release))
                case .virtualMachineVolume(let vm, _), .dataVolumeTemplate(let vm), .virtualMachineInstancetype(let vm),
                    .virtualMachinePreference(let vm), .persistentStateOf(let vm), .secretOfVirtualMachine(let vm, _):
                    led.formUnion(machine(vm, near: namespace))
                case .definitionOf(let parent), .claimOfWorkload(let parent, _), .statefulSetClaim(let parent, _, _),
                    .claimOfDataVolume(let parent), .ownedBy(let parent), .boundVolumeOf(let parent), .storageClassOf(let parent),
                    .serviceAccountOf(let parent), .bindsServiceAccount(let parent), .roleOfBinding(let parent), .operatorGroup(let parent):
                    led.insert(parent)
                default:
                    break
                }
            }
            membership[reference] = own
            parents[reference] = led.intersection(references).subtracting([reference])
        }
        // Each object joins its parents' components, until nothing changes (shared objects and
        // cycles included).
        var changed = true
        while changed {
            changed = false
            for (reference, led) in parents {
                var joined = membership[reference] ?? []
                for parent in led { joined.formUnion(membership[parent] ?? []) }
                if joined.count != membership[reference]?.count {
                    membership[reference] = joined
                    changed = true
                }
            }
        }
        return membership
    }

    static let virtualMachine = GroupKind(group: "kubevirt.io", kind: "VirtualMachine")
    static let claim = GroupKind(group: "", kind: "PersistentVolumeClaim")
}
