import FerryKube
import Foundation

/// KubeVirt's aggregated API `subresources.kubevirt.io/v1` (virt-api), as far as backups use
/// it: `PUT .../virtualmachineinstances/NAME/freeze` (body `{"unfreezeTimeout": "5m"}`) and
/// `.../unfreeze`. Like virt-api, it answers 404 for a missing VMI and 409 for one that is not
/// running or whose guest agent is not connected; otherwise it answers 200 with an empty body
/// and sets (or clears) the VMI's `status.fsFreezeStatus`, which virt-handler reports once the
/// guest agent has frozen the file systems.
extension APIServerState {
    static let kubeVirtSubresources = "subresources.kubevirt.io"

    /// The answer to a request under `/apis/subresources.kubevirt.io`, nil for another path.
    func kubeVirtSubresource(_ request: APIRequest, segments: [String]) -> APIResponse? {
        guard segments.count >= 2, segments[0] == "apis", segments[1] == Self.kubeVirtSubresources else { return nil }
        guard segments.count == 8, segments[2] == "v1", segments[3] == "namespaces", segments[5] == "virtualmachineinstances",
            ["freeze", "unfreeze"].contains(segments[7])
        else { return .status(Self.notFoundPath) }
        guard request.method == "PUT" else { return methodNotAllowed(request) }
        let (namespace, name, action) = (segments[4], segments[6], segments[7])
        guard let entry = registry.entry(group: "kubevirt.io", version: "v1", resource: "virtualmachineinstances"),
            let vmi = existing(entry, namespace: namespace, name: name)
        else {
            return .status(
                APIStatus(
                    code: 404, reason: "NotFound", message: "virtualmachineinstance.kubevirt.io \"\(name)\" not found",
                    detailsName: name, detailsGroup: "kubevirt.io", detailsKind: "virtualmachineinstance"))
        }
        guard vmi["status"]?["phase"]?.stringValue == "Running" else {
            return .status(APIStatus(code: 409, reason: "Conflict", message: "VMI is not running"))
        }
        let agentConnected = (vmi["status"]?["conditions"]?.arrayValue ?? []).contains {
            $0["type"]?.stringValue == "AgentConnected" && $0["status"]?.stringValue == "True"
        }
        guard agentConnected else {
            return .status(APIStatus(code: 409, reason: "Conflict", message: "Guest agent is not connected"))
        }
        if action == "freeze" {
            let body = (try? JSONValue(parsing: request.body)) ?? .null
            guard let timeout = body["unfreezeTimeout"]?.stringValue, !timeout.isEmpty else {
                return .status(Self.badRequest("Failed to unmarshal Request: unfreezeTimeout is required"))
            }
        }
        var updated = vmi
        if case .object(var status) = vmi["status"] ?? .null {
            status["fsFreezeStatus"] = action == "freeze" ? "frozen" : nil
            updated["status"] = .object(status)
        }
        let key = ObjectKey(namespace: namespace, name: name)
        let rv = tick()
        updated.setValue(.string(String(rv)), at: ["metadata", "resourceVersion"])
        store[entry.storageKey, default: [:]][key] = updated
        record(StoredEvent(resourceVersion: rv, type: "MODIFIED", key: entry.storageKey, object: updated, previous: vmi))
        return .body(status: 200, contentType: "application/json", body: [], headers: [])
    }
}
