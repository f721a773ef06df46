import FerryAPI
import FerryKube
import FerryRepo

/// The pods of an application's components, for hooks declared on one component (`component:`):
/// the pods its workloads select (Deployments, StatefulSets, DaemonSets, ReplicaSets and Jobs, by
/// their `spec.selector`), those its VirtualMachines run in (`vm.kubevirt.io/name`), its own
/// Pods, and for a claim the pods that mount it.
struct ComponentPods: Sendable {
    /// One object of the application, where it is now (a restore: where it was restored to), with
    /// the components it belongs to as recorded (a restore: in the backed-up namespaces).
    struct Member: Sendable {
        var object: KubeObject
        var components: Set<ApplicationComponent>
    }

    let members: [Member]

    /// Whether the application holds `component` at all.
    func holds(_ component: ApplicationComponent) -> Bool {
        members.contains { member in member.components.contains { component.selects($0) } }
    }

    /// Whether a pod belongs to `component` (its members found once, then each pod checked
    /// against them).
    func podFilter(_ component: ApplicationComponent) -> (KubeObject) -> Bool {
        let own = members.filter { member in member.components.contains { component.selects($0) } }.map(\.object)
        let claimComponent = component.kind == .claim
        return { pod in
            own.contains { $0.namespace == pod.namespace && Self.runs(pod, member: $0, claimComponent: claimComponent) }
        }
    }

    /// Whether `pod` is one of `member`'s pods (same namespace assumed).
    static func runs(_ pod: KubeObject, member: KubeObject, claimComponent: Bool) -> Bool {
        let group = member.reference.group
        switch (group, member.kind) {
        case ("", "Pod"):
            return member.name == pod.name
        case ("apps", "Deployment"), ("apps", "StatefulSet"), ("apps", "DaemonSet"), ("apps", "ReplicaSet"), ("batch", "Job"):
            // A workload without a valid selector selects nothing (the API server never stores one).
            guard let selector = try? LabelSelector(object: member["spec"]?["selector"]) else { return false }
            return selector.matches(pod.labels)
        case ("kubevirt.io", "VirtualMachine"), ("kubevirt.io", "VirtualMachineInstance"):
            return pod.labels["vm.kubevirt.io/name"] == member.name || pod.labels["kubevirt.io/vm"] == member.name
        case ("", "PersistentVolumeClaim") where claimComponent:
            return (pod["spec"]?["volumes"]?.arrayValue ?? []).contains {
                $0["persistentVolumeClaim"]?["claimName"]?.stringValue == member.name
            }
        default:
            return false
        }
    }
}
