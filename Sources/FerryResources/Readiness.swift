import FerryKube

/// Whether a restored object is ready for what the restore does next: a CustomResourceDefinition
/// established (its kind can be created), an operator's workload running, an OLM install done.
/// Kinds without a notion of readiness are ready once they exist.
enum Readiness {
    /// nil when ready, else what is still missing (for people).
    static func pending(_ object: KubeObject) -> String? {
        let status = object["status"]
        switch (object.groupKind.group, object.kind) {
        case ("apiextensions.k8s.io", "CustomResourceDefinition"):
            return condition("Established", of: object) ? nil : "not established yet"
        case ("apps", "Deployment"):
            if let pending = notObserved(object) { return pending }
            let wanted = object["spec"]?["replicas"]?.intValue ?? 1
            let available = status?["availableReplicas"]?.intValue ?? 0
            return available >= wanted ? nil : "\(available) of \(wanted) replicas available"
        case ("apps", "StatefulSet"):
            if let pending = notObserved(object) { return pending }
            let wanted = object["spec"]?["replicas"]?.intValue ?? 1
            let ready = status?["readyReplicas"]?.intValue ?? 0
            return ready >= wanted ? nil : "\(ready) of \(wanted) replicas ready"
        case ("apps", "DaemonSet"):
            if let pending = notObserved(object) { return pending }
            let wanted = status?["desiredNumberScheduled"]?.intValue ?? 0
            let ready = status?["numberReady"]?.intValue ?? 0
            return ready >= wanted ? nil : "\(ready) of \(wanted) pods ready"
        case ("operators.coreos.com", "ClusterServiceVersion"):
            let phase = status?["phase"]?.stringValue ?? ""
            return phase == "Succeeded" ? nil : "phase \(phase.isEmpty ? "unknown" : phase), waiting for Succeeded"
        case ("operators.coreos.com", "Subscription"):
            let installed = status?["installedCSV"]?.stringValue ?? ""
            return installed.isEmpty ? "no ClusterServiceVersion installed yet" : nil
        default:
            return nil
        }
    }

    /// The controller has not looked at the latest spec yet.
    private static func notObserved(_ object: KubeObject) -> String? {
        guard let generation = object.generation else { return nil }
        let observed = object["status"]?["observedGeneration"]?.intValue ?? 0
        return observed >= generation ? nil : "generation \(generation) not observed by its controller yet"
    }

    private static func condition(_ type: String, of object: KubeObject) -> Bool {
        (object["status"]?["conditions"]?.arrayValue ?? []).contains {
            $0["type"]?.stringValue == type && $0["status"]?.stringValue == "True"
        }
    }
}
