import FerryKube
import FerryTestSupport
import Foundation

/// A container of a workload the chart installed (Deployment or DaemonSet), as `podman run`
/// options: the pod's and the container's security context (user, read-only root, privileged,
/// capabilities, no privilege escalation), its volume mounts (hostPath volumes at the host paths
/// a test gives, emptyDir as a tmpfs as the kubelet makes it: mode 0777), its environment (pod
/// fields as a test gives them) and its arguments. Nothing the chart sets is left out silently:
/// a field this type does not know how to run is an error.
struct ChartContainer {
    /// `podman run` options.
    var options: [String] = []
    /// The chart's `ferry` arguments (`coordinator ...`, `agent ...`).
    var command: ChartCommand
    /// The user and group the container runs as (nil: the image's own).
    var user: (uid: Int, gid: Int?)?

    /// The first container of `workload`.
    /// - Parameters:
    ///   - hostPaths: where each hostPath volume's path is on this machine (a path not listed is
    ///     an error: tests never mount the machine's own directories by accident).
    ///   - fields: the pod fields (`metadata.name`, `spec.nodeName`, ...) environment refers to.
    ///   - environment: more variables (the in-cluster API address).
    ///   - mounts: more bind mounts, host path to container path (the service account's token).
    init(
        _ workload: KubeObject, subcommand: String, hostPaths: [String: String], fields: [String: String],
        environment: [String: String] = [:], mounts: [String: String] = [:]
    ) throws {
        let pod = try Self.require(workload["spec"]?["template"]?["spec"], "spec.template.spec")
        let container = try Self.require(pod["containers"]?[0], "the first container")
        command = try ChartCommand(rendered: [workload.json], kind: workload.kind, subcommand: subcommand)

        // Security context: the container's fields win over the pod's.
        let podContext = pod["securityContext"]
        let context = container["securityContext"]
        let uid = (context?["runAsUser"]?.intValue ?? podContext?["runAsUser"]?.intValue).map { Int($0) }
        let gid = (context?["runAsGroup"]?.intValue ?? podContext?["runAsGroup"]?.intValue).map { Int($0) }
        if let uid {
            user = (uid, gid)
            options += ["--user", gid.map { "\(uid):\($0)" } ?? "\(uid)"]
        }
        if (context?["runAsNonRoot"] ?? podContext?["runAsNonRoot"])?.boolValue == true && uid == 0 {
            throw Unsupported(field: "runAsNonRoot with runAsUser 0")
        }
        if let group = podContext?["fsGroup"]?.intValue { options += ["--group-add", String(group)] }
        if context?["readOnlyRootFilesystem"]?.boolValue == true {
            // As in Kubernetes: nothing writable but the volumes (podman would add tmpfs mounts).
            options += ["--read-only", "--read-only-tmpfs=false"]
        }
        if context?["privileged"]?.boolValue == true { options.append("--privileged") }
        if context?["allowPrivilegeEscalation"]?.boolValue == false { options += ["--security-opt", "no-new-privileges"] }
        for capability in (context?["capabilities"]?["drop"]?.arrayValue ?? []).compactMap(\.stringValue) {
            options += ["--cap-drop", capability]
        }
        for capability in (context?["capabilities"]?["add"]?.arrayValue ?? []).compactMap(\.stringValue) {
            options += ["--cap-add", capability]
        }
        for key in (context?.objectValue?.keys).map(Array.init) ?? [] where !Self.knownContextFields.contains(key) {
            throw Unsupported(field: "securityContext.\(key)")
        }

        // Volumes.
        var volumes: [String: JSONValue] = [:]
        for volume in pod["volumes"]?.arrayValue ?? [] {
            if let name = volume["name"]?.stringValue { volumes[name] = volume }
        }
        for mount in container["volumeMounts"]?.arrayValue ?? [] {
            let name = try Self.require(mount["name"]?.stringValue, "volumeMounts[].name")
            let path = try Self.require(mount["mountPath"]?.stringValue, "volumeMounts[].mountPath")
            let volume = try Self.require(volumes[name], "volume \(name)")
            if let hostPath = volume["hostPath"]?["path"]?.stringValue {
                guard let local = hostPaths[hostPath] else { throw Unsupported(field: "hostPath \(hostPath) (no test path given for it)") }
                var flags = [mount["readOnly"]?.boolValue == true ? "ro" : "rw"]
                if mount["mountPropagation"]?.stringValue == "HostToContainer" { flags.append("rslave") }
                options += ["--volume", "\(local):\(path):\(flags.joined(separator: ","))"]
            } else if volume["emptyDir"] != nil {
                options += ["--tmpfs", "\(path):rw,mode=0777"]
            } else {
                throw Unsupported(field: "volume \(name) of a kind other than hostPath or emptyDir")
            }
        }
        for (host, path) in mounts.sorted(by: { $0.key < $1.key }) { options += ["--volume", "\(host):\(path):ro"] }

        // Environment: the chart's values and pod fields, then the test's.
        var variables = command.environment
        for (name, path) in command.fieldReferences {
            variables[name] = try Self.require(fields[path], "pod field \(path) (for \(name))")
        }
        variables.merge(environment) { $1 }
        for (name, value) in variables.sorted(by: { $0.key < $1.key }) { options += ["--env", "\(name)=\(value)"] }
    }

    /// The security context fields this type applies.
    static let knownContextFields: Set<String> = [
        "runAsUser", "runAsGroup", "runAsNonRoot", "readOnlyRootFilesystem", "privileged", "allowPrivilegeEscalation", "capabilities",
    ]

    private static func require<T>(_ value: T?, _ what: String) throws -> T {
        guard let value else { throw Unsupported(field: "\(what) (missing)") }
        return value
    }

    struct Unsupported: Error, CustomStringConvertible {
        var field: String
        var description: String { "the chart's container cannot be run by the test: \(field)" }
    }
}
