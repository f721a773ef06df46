import FerryKube
import Foundation

/// What one accepted pods/exec request runs: the command, in the sandbox standing for the
/// container, with the streams the client asked for.
struct ExecSession: Sendable {
    var namespace: String
    var pod: String
    var container: String
    var command: [String]
    var stdin: Bool
    var stdout: Bool
    var stderr: Bool
    var tty: Bool
    /// The container's environment: its `env` literal values, HOSTNAME, PATH, HOME.
    var environment: [String: String]
    /// The sandbox directory (the command's working directory).
    var directory: String
    /// The WebSocket subprotocol chosen (`v5.channel.k8s.io` or `v4.channel.k8s.io`).
    var subprotocol = ""
}

extension APIServerState {
    /// The subprotocols of kube-apiserver's remotecommand WebSocket this server speaks, preferred first.
    static let execSubprotocols = ["v5.channel.k8s.io", "v4.channel.k8s.io"]

    /// Checks an exec request as kube-apiserver does before it connects to the kubelet
    /// (`pod.ExecLocation` / `streamLocation`), and as the kubelet does: the pod exists, the
    /// container is named or the only one, the pod has a node and is running. The session
    /// names the sandbox directory that stands for the container.
    func execSession(_ request: APIRequest, _ r: ResourceRequest, name: String) throws(APIError) -> ExecSession {
        guard let pod = existing(r.entry, namespace: r.namespace, name: name) else { throw APIError(Self.notFound(r.entry, name)) }
        let values = request.queryValues
        let flag = { (key: String) in ["true", "1"].contains(values[key]?.last?.lowercased() ?? "") }
        let command = values["command"] ?? []
        let (stdin, stdout, stderr, tty) = (flag("stdin"), flag("stdout"), flag("stderr"), flag("tty"))
        guard stdin || stdout || stderr else { throw APIError(Self.badRequest("you must specify at least 1 of stdin, stdout, stderr")) }
        guard !command.isEmpty else { throw APIError(Self.badRequest("you must specify at least one command for the container")) }
        let containers = pod["spec"]?["containers"]?.arrayValue ?? []
        let names = containers.compactMap { $0["name"]?.stringValue }
        let initNames = (pod["spec"]?["initContainers"]?.arrayValue ?? []).compactMap { $0["name"]?.stringValue }
        var container = values["container"]?.last ?? ""
        if container.isEmpty {
            switch names.count {
            case 1: container = names[0]
            case 0: throw APIError(Self.badRequest("a container name must be specified for pod \(name)"))
            default:
                var message = "a container name must be specified for pod \(name), choose one of: [\(names.joined(separator: " "))]"
                if !initNames.isEmpty { message += " or one of the init containers: [\(initNames.joined(separator: " "))]" }
                throw APIError(Self.badRequest(message))
            }
        } else if !names.contains(container) && !initNames.contains(container) {
            throw APIError(Self.badRequest("container \(container) is not valid for pod \(name)"))
        }
        guard !(pod["spec"]?["nodeName"]?.stringValue ?? "").isEmpty else {
            throw APIError(Self.badRequest("pod \(name) does not have a host assigned"))
        }
        // The kubelet refuses a container that is not running (the error comes through the API server).
        let phase = pod["status"]?["phase"]?.stringValue ?? "Pending"
        let containerStatus = (pod["status"]?["containerStatuses"]?.arrayValue ?? []).first { $0["name"]?.stringValue == container }
        if phase == "Succeeded" || phase == "Failed" {
            throw APIError(Self.badRequest("cannot exec into a container in a completed pod; current phase is \(phase)"))
        }
        if phase != "Running" || (containerStatus != nil && containerStatus?["state"]?["running"] == nil) {
            throw APIError(
                APIStatus(
                    code: 500, reason: "InternalError", message: "unable to upgrade connection: container not found (\"\(container)\")"))
        }
        let spec = containers.first { $0["name"]?.stringValue == container } ?? [:]
        let directory = execDirectory(namespace: r.namespace ?? "", pod: name, container: container)
        var environment = [
            "PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "HOSTNAME": name, "HOME": directory,
        ]
        for variable in spec["env"]?.arrayValue ?? [] {
            guard let key = variable["name"]?.stringValue, let value = variable["value"]?.stringValue else { continue }
            environment[key] = value
        }
        return ExecSession(
            namespace: r.namespace ?? "", pod: name, container: container, command: command, stdin: stdin, stdout: stdout,
            stderr: stderr, tty: tty, environment: environment, directory: directory)
    }

    /// The directory standing for a container's file system in exec'd commands.
    nonisolated func execDirectory(namespace: String, pod: String, container: String) -> String {
        "\(options.execSandboxRoot ?? NSTemporaryDirectory())/\(namespace)/\(pod)/\(container)"
    }
}

extension KubeTestServer {
    /// The sandbox directory of a container: the working directory (and HOME) of commands
    /// exec'd in it, created at the first exec.
    public func execDirectory(namespace: String, pod: String, container: String) -> String {
        state.execDirectory(namespace: namespace, pod: pod, container: container)
    }
}
