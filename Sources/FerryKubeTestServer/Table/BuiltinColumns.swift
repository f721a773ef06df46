import FerryKube
import Foundation

/// The columns kube-apiserver's printers (pkg/printers/internalversion) give the built-in kinds
/// Ferry's users look at: pods, claims, volumes, namespaces, Secrets, ConfigMaps, Services,
/// ServiceAccounts, Deployments, StatefulSets, DaemonSets and ReplicaSets. Always generated wide, as the server does
/// (kubectl hides priority 1 columns without `-o wide`); descriptions are the API
/// documentation's, read from the OpenAPI definitions.
struct BuiltinColumns: TableColumns {
    let columns: [TableColumn]
    let makeCells: @Sendable (JSONValue, Date) -> [JSONValue]
    let makeConditions: @Sendable (JSONValue) -> JSONValue?

    func cells(_ object: JSONValue, now: Date) -> [JSONValue] { makeCells(object, now) }
    func conditions(_ object: JSONValue) -> JSONValue? { makeConditions(object) }

    /// The printer of a built-in resource (`""`/`pods`, `apps`/`deployments`), nil for others.
    static func forResource(group: String, resource: String, definitions: OpenAPIDefinitions?) -> BuiltinColumns? {
        let docs = Docs(definitions: definitions)
        let nameColumn = TableColumn(name: "Name", type: "string", format: "name", description: docs.meta("name"))
        let ageColumn = TableColumn(name: "Age", type: "string", description: docs.meta("creationTimestamp"))
        func column(_ title: String, _ description: String, priority: Int = 0) -> TableColumn {
            TableColumn(name: title, type: "string", description: description, priority: priority)
        }
        func make(
            _ columns: [TableColumn], conditions: @escaping @Sendable (JSONValue) -> JSONValue? = { _ in nil },
            _ cells: @escaping @Sendable (JSONValue, Date) -> [JSONValue]
        ) -> BuiltinColumns {
            BuiltinColumns(columns: columns, makeCells: cells, makeConditions: conditions)
        }
        switch (group, resource) {
        case ("", "pods"):
            return make(
                [
                    nameColumn,
                    column("Ready", "The aggregate readiness state of this pod for accepting traffic."),
                    column("Status", "The aggregate status of the containers in this pod."),
                    column(
                        "Restarts",
                        "The number of times the containers in this pod have been restarted and when the last "
                            + "container in this pod has restarted."),
                    ageColumn,
                    column("IP", docs.core("PodStatus", "podIP"), priority: 1),
                    column("Node", docs.core("PodSpec", "nodeName"), priority: 1),
                    column("Nominated Node", docs.core("PodStatus", "nominatedNodeName"), priority: 1),
                    column("Readiness Gates", docs.core("PodSpec", "readinessGates"), priority: 1),
                ],
                conditions: PodPrinter.conditions, PodPrinter.cells)
        case ("", "persistentvolumeclaims"):
            return make([
                nameColumn,
                column("Status", docs.core("PersistentVolumeClaimStatus", "phase")),
                column("Volume", docs.core("PersistentVolumeClaimSpec", "volumeName")),
                column("Capacity", docs.core("ResourceRequirements", "requests")),
                column("Access Modes", docs.core("PersistentVolumeClaimStatus", "accessModes")),
                column("StorageClass", "StorageClass of the pvc"),
                column("VolumeAttributesClass", "VolumeAttributesClass of the pvc"),
                ageColumn,
                column("VolumeMode", docs.core("PersistentVolumeClaimSpec", "volumeMode"), priority: 1),
            ]) { object, now in
                let spec = object["spec"] ?? [:]
                let status = object["status"] ?? [:]
                let volume = spec["volumeName"]?.stringValue ?? ""
                let bound = !volume.isEmpty
                let phase = object["metadata"]?["deletionTimestamp"] != nil ? "Terminating" : status["phase"]?.stringValue ?? ""
                return [
                    .string(objectName(object)), .string(phase), .string(volume),
                    .string(bound ? status["capacity"]?["storage"].map(quantity) ?? "" : ""),
                    .string(bound ? accessModes(status["accessModes"]) : ""),
                    .string(storageClass(object)),
                    .string(spec["volumeAttributesClassName"]?.stringValue ?? "<unset>"),
                    .string(age(object, now)),
                    .string(spec["volumeMode"]?.stringValue ?? "<unset>"),
                ]
            }
        case ("", "persistentvolumes"):
            return make([
                nameColumn,
                column("Capacity", docs.core("ResourceRequirements", "requests")),
                column("Access Modes", docs.core("PersistentVolumeSpec", "accessModes")),
                column("Reclaim Policy", docs.core("PersistentVolumeSpec", "persistentVolumeReclaimPolicy")),
                column("Status", docs.core("PersistentVolumeStatus", "phase")),
                column("Claim", docs.core("PersistentVolumeSpec", "claimRef")),
                column("StorageClass", "StorageClass of the pv"),
                column("VolumeAttributesClass", "VolumeAttributesClass of the pv"),
                column("Reason", docs.core("PersistentVolumeStatus", "reason")),
                ageColumn,
                column("VolumeMode", docs.core("PersistentVolumeSpec", "volumeMode"), priority: 1),
            ]) { object, now in
                let spec = object["spec"] ?? [:]
                let claim = spec["claimRef"].map { "\($0["namespace"]?.stringValue ?? "")/\($0["name"]?.stringValue ?? "")" } ?? ""
                let phase = object["metadata"]?["deletionTimestamp"] != nil ? "Terminating" : object["status"]?["phase"]?.stringValue ?? ""
                return [
                    .string(objectName(object)), .string(spec["capacity"]?["storage"].map(quantity) ?? ""),
                    .string(accessModes(spec["accessModes"])), .string(spec["persistentVolumeReclaimPolicy"]?.stringValue ?? ""),
                    .string(phase), .string(claim), .string(storageClass(object)),
                    .string(spec["volumeAttributesClassName"]?.stringValue ?? "<unset>"),
                    .string(object["status"]?["reason"]?.stringValue ?? ""), .string(age(object, now)),
                    .string(spec["volumeMode"]?.stringValue ?? "<unset>"),
                ]
            }
        case ("", "namespaces"):
            return make([nameColumn, column("Status", "The status of the namespace"), ageColumn]) { object, now in
                [.string(objectName(object)), .string(object["status"]?["phase"]?.stringValue ?? ""), .string(age(object, now))]
            }
        case ("", "secrets"):
            let secretColumns = [
                nameColumn, column("Type", docs.core("Secret", "type")), column("Data", docs.core("Secret", "data")), ageColumn,
            ]
            return make(secretColumns) { object, now in
                [
                    .string(objectName(object)), .string(object["type"]?.stringValue ?? ""),
                    .int(Int64(object["data"]?.objectValue?.count ?? 0)), .string(age(object, now)),
                ]
            }
        case ("", "configmaps"):
            return make([nameColumn, column("Data", docs.core("ConfigMap", "data")), ageColumn]) { object, now in
                let count = (object["data"]?.objectValue?.count ?? 0) + (object["binaryData"]?.objectValue?.count ?? 0)
                return [.string(objectName(object)), .int(Int64(count)), .string(age(object, now))]
            }
        case ("", "serviceaccounts"):
            return make([nameColumn, column("Secrets", docs.core("ServiceAccount", "secrets")), ageColumn]) { object, now in
                [.string(objectName(object)), .int(Int64(object["secrets"]?.arrayValue?.count ?? 0)), .string(age(object, now))]
            }
        case ("", "services"):
            return make([
                nameColumn,
                column("Type", docs.core("ServiceSpec", "type")),
                column("Cluster-IP", docs.core("ServiceSpec", "clusterIP")),
                column("External-IP", docs.core("ServiceSpec", "externalIPs")),
                column("Port(s)", docs.core("ServiceSpec", "ports")),
                ageColumn,
                column("Selector", docs.core("ServiceSpec", "selector"), priority: 1),
            ]) { object, now in
                let spec = object["spec"] ?? [:]
                let ports = (spec["ports"]?.arrayValue ?? []).map { port -> String in
                    let number = port["port"]?.intValue ?? 0
                    let proto = port["protocol"]?.stringValue ?? "TCP"
                    if let node = port["nodePort"]?.intValue, node != 0 { return "\(number):\(node)/\(proto)" }
                    return "\(number)/\(proto)"
                }.joined(separator: ",")
                return [
                    .string(objectName(object)), .string(spec["type"]?.stringValue ?? ""),
                    .string(spec["clusterIPs"]?[0]?.stringValue ?? "<none>"), .string(externalIP(object)),
                    .string(ports.isEmpty ? "<none>" : ports), .string(age(object, now)),
                    .string(formatLabels(spec["selector"]?.stringMap ?? [:])),
                ]
            }
        case ("apps", "deployments"):
            return make([
                nameColumn,
                column("Ready", "Number of the pod with ready state"),
                column("Up-to-date", docs.apps("DeploymentStatus", "updatedReplicas")),
                column("Available", docs.apps("DeploymentStatus", "availableReplicas")),
                ageColumn,
                column("Containers", "Names of each container in the template.", priority: 1),
                column("Images", "Images referenced by each container in the template.", priority: 1),
                column("Selector", docs.apps("DeploymentSpec", "selector"), priority: 1),
            ]) { object, now in
                let status = object["status"] ?? [:]
                let (containers, images) = containerCells(object)
                return [
                    .string(objectName(object)),
                    .string("\(status["readyReplicas"]?.intValue ?? 0)/\(object["spec"]?["replicas"]?.intValue ?? 1)"),
                    .int(status["updatedReplicas"]?.intValue ?? 0), .int(status["availableReplicas"]?.intValue ?? 0),
                    .string(age(object, now)), .string(containers), .string(images),
                    .string(selector(object["spec"]?["selector"])),
                ]
            }
        case ("apps", "daemonsets"):
            func count(_ title: String, _ field: String) -> TableColumn {
                TableColumn(name: title, type: "integer", description: docs.apps("DaemonSetStatus", field))
            }
            return make([
                nameColumn, count("Desired", "desiredNumberScheduled"), count("Current", "currentNumberScheduled"),
                count("Ready", "numberReady"), count("Up-to-date", "updatedNumberScheduled"), count("Available", "numberAvailable"),
                column("Node Selector", docs.core("PodSpec", "nodeSelector")), ageColumn,
                column("Containers", "Names of each container in the template.", priority: 1),
                column("Images", "Images referenced by each container in the template.", priority: 1),
                column("Selector", docs.apps("DaemonSetSpec", "selector"), priority: 1),
            ]) { object, now in
                let status = object["status"] ?? [:]
                let (containers, images) = containerCells(object)
                let counts = [
                    "desiredNumberScheduled", "currentNumberScheduled", "numberReady", "updatedNumberScheduled", "numberAvailable",
                ]
                return [.string(objectName(object))] + counts.map { .int(status[$0]?.intValue ?? 0) } + [
                    .string(formatLabels(object["spec"]?["template"]?["spec"]?["nodeSelector"]?.stringMap ?? [:])),
                    .string(age(object, now)), .string(containers), .string(images), .string(selector(object["spec"]?["selector"])),
                ]
            }
        case ("apps", "replicasets"):
            return make([
                nameColumn,
                TableColumn(name: "Desired", type: "integer", description: docs.apps("ReplicaSetSpec", "replicas")),
                TableColumn(name: "Current", type: "integer", description: docs.apps("ReplicaSetStatus", "replicas")),
                TableColumn(name: "Ready", type: "integer", description: docs.apps("ReplicaSetStatus", "readyReplicas")),
                ageColumn,
                column("Containers", "Names of each container in the template.", priority: 1),
                column("Images", "Images referenced by each container in the template.", priority: 1),
                column("Selector", docs.apps("ReplicaSetSpec", "selector"), priority: 1),
            ]) { object, now in
                let (containers, images) = containerCells(object)
                return [
                    .string(objectName(object)), .int(object["spec"]?["replicas"]?.intValue ?? 1),
                    .int(object["status"]?["replicas"]?.intValue ?? 0), .int(object["status"]?["readyReplicas"]?.intValue ?? 0),
                    .string(age(object, now)), .string(containers), .string(images), .string(selector(object["spec"]?["selector"])),
                ]
            }
        case ("apps", "statefulsets"):
            return make([
                nameColumn,
                column("Ready", "Number of the pod with ready state"),
                ageColumn,
                column("Containers", "Names of each container in the template.", priority: 1),
                column("Images", "Images referenced by each container in the template.", priority: 1),
            ]) { object, now in
                let (containers, images) = containerCells(object)
                return [
                    .string(objectName(object)),
                    .string("\(object["status"]?["readyReplicas"]?.intValue ?? 0)/\(object["spec"]?["replicas"]?.intValue ?? 1)"),
                    .string(age(object, now)), .string(containers), .string(images),
                ]
            }
        default:
            return nil
        }
    }

    // MARK: - Cell helpers

    static func objectName(_ object: JSONValue) -> String { object["metadata"]?["name"]?.stringValue ?? "" }

    static func age(_ object: JSONValue, _ now: Date) -> String {
        HumanDuration.since(object["metadata"]?["creationTimestamp"]?.stringValue, now: now)
    }

    /// A quantity as given (the real printer writes its canonical form, the same for the usual `10Gi`).
    static func quantity(_ value: JSONValue) -> String {
        value.stringValue ?? String(decoding: value.serialized(), as: UTF8.self)
    }

    /// `RWO,ROX,RWX,RWOP` in that order, each once.
    static func accessModes(_ modes: JSONValue?) -> String {
        let given = Set((modes?.arrayValue ?? []).compactMap(\.stringValue))
        return [("ReadWriteOnce", "RWO"), ("ReadOnlyMany", "ROX"), ("ReadWriteMany", "RWX"), ("ReadWriteOncePod", "RWOP")]
            .filter { given.contains($0.0) }.map(\.1).joined(separator: ",")
    }

    /// The beta storage-class annotation, else `spec.storageClassName`.
    static func storageClass(_ object: JSONValue) -> String {
        object["metadata"]?["annotations"]?["volume.beta.kubernetes.io/storage-class"]?.stringValue
            ?? object["spec"]?["storageClassName"]?.stringValue ?? ""
    }

    static func containerCells(_ object: JSONValue) -> (String, String) {
        let containers = object["spec"]?["template"]?["spec"]?["containers"]?.arrayValue ?? []
        return (
            containers.compactMap { $0["name"]?.stringValue }.joined(separator: ","),
            containers.compactMap { $0["image"]?.stringValue }.joined(separator: ",")
        )
    }

    /// `labels.FormatLabels`: sorted `k=v` pairs, `<none>` when empty.
    static func formatLabels(_ labels: [String: String]) -> String {
        labels.isEmpty ? "<none>" : labels.keys.sorted().map { "\($0)=\(labels[$0]!)" }.joined(separator: ",")
    }

    /// A LabelSelector as `metav1.LabelSelectorAsSelector(...).String()` writes it.
    static func selector(_ selector: JSONValue?) -> String {
        guard let selector else { return "<none>" }
        var requirements: [(String, String)] = (selector["matchLabels"]?.stringMap ?? [:]).map { ($0.key, "\($0.key)=\($0.value)") }
        for expression in selector["matchExpressions"]?.arrayValue ?? [] {
            let key = expression["key"]?.stringValue ?? ""
            let values = (expression["values"]?.arrayValue ?? []).compactMap(\.stringValue).sorted().joined(separator: ",")
            switch expression["operator"]?.stringValue ?? "" {
            case "In": requirements.append((key, "\(key) in (\(values))"))
            case "NotIn": requirements.append((key, "\(key) notin (\(values))"))
            case "Exists": requirements.append((key, key))
            case "DoesNotExist": requirements.append((key, "!\(key)"))
            default: break
            }
        }
        return requirements.sorted { $0.0 < $1.0 }.map(\.1).joined(separator: ",")
    }

    static func externalIP(_ service: JSONValue) -> String {
        let spec = service["spec"] ?? [:]
        let external = (spec["externalIPs"]?.arrayValue ?? []).compactMap(\.stringValue)
        switch spec["type"]?.stringValue ?? "ClusterIP" {
        case "ClusterIP", "NodePort":
            return external.isEmpty ? "<none>" : external.joined(separator: ",")
        case "LoadBalancer":
            let ingress = (service["status"]?["loadBalancer"]?["ingress"]?.arrayValue ?? []).compactMap {
                $0["ip"]?.stringValue ?? $0["hostname"]?.stringValue
            }
            let all = ingress + external
            return all.isEmpty ? "<pending>" : all.joined(separator: ",")
        case "ExternalName":
            return spec["externalName"]?.stringValue ?? ""
        default:
            return "<unknown>"
        }
    }

    /// Field documentation from the OpenAPI definitions.
    struct Docs {
        var definitions: OpenAPIDefinitions?

        func field(_ definition: String, _ name: String) -> String {
            definitions?.schemas[definition]?["properties"]?[name]?["description"]?.stringValue ?? ""
        }

        func meta(_ name: String) -> String { field(FieldValidator.objectMeta, name) }
        func core(_ type: String, _ name: String) -> String { field("io.k8s.api.core.v1.\(type)", name) }
        func apps(_ type: String, _ name: String) -> String { field("io.k8s.api.apps.v1.\(type)", name) }
    }
}
