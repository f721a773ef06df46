import FerryAPI
import FerryKube

/// Freezes the file systems of running KubeVirt guests (through the guest agent, with virt-api's
/// `freeze` subresource) while their volumes' snapshots are cut, so the snapshots are consistent
/// inside the guest, and thaws them as soon as the snapshots exist: the freeze brackets the
/// snapshot, not the read. A VM that cannot be frozen (not running, no guest agent)
/// is snapshotted crash-consistent, with a warning. Each freeze carries an `unfreezeTimeout`, so
/// a coordinator that dies in between cannot leave a guest frozen for long.
struct GuestFreeze: Sendable {
    let client: KubeClient
    let log: @Sendable (String) -> Void
    static let unfreezeTimeout = "5m0s"

    /// Freezes each VM's instance; returns those frozen and why the others were not.
    func freeze(_ machines: [ObjectReference]) async -> (frozen: [ObjectReference], warnings: [String]) {
        var frozen: [ObjectReference] = []
        var warnings: [String] = []
        let body: JSONValue = ["unfreezeTimeout": .string(Self.unfreezeTimeout)]
        for vm in machines {
            do {
                _ = try await client.send("PUT", Self.path(vm, "freeze"), body: body.serialized())
                frozen.append(vm)
                log("VirtualMachine \(vm.namespace ?? "")/\(vm.name): guest file systems frozen for its snapshots")
            } catch {
                let reason = error.status.map { $0.code == 404 ? "it is not running" : $0.message } ?? error.description
                warnings.append(
                    "VirtualMachine \(vm.namespace ?? "")/\(vm.name) was not frozen (\(reason)): its snapshots are crash-consistent")
            }
        }
        return (frozen, warnings)
    }

    /// Thaws what `freeze` froze; returns warnings for guests that could not be thawed (their
    /// unfreeze timeout thaws them).
    func thaw(_ machines: [ObjectReference]) async -> [String] {
        var warnings: [String] = []
        for vm in machines {
            do {
                _ = try await client.send("PUT", Self.path(vm, "unfreeze"))
                log("VirtualMachine \(vm.namespace ?? "")/\(vm.name): guest file systems thawed")
            } catch {
                warnings.append(
                    """
                    VirtualMachine \(vm.namespace ?? "")/\(vm.name) could not be thawed (\(error)); \
                    its guest agent thaws it after \(Self.unfreezeTimeout)
                    """
                )
            }
        }
        return warnings
    }

    static func path(_ vm: ObjectReference, _ action: String) -> String {
        "/apis/subresources.kubevirt.io/v1/namespaces/\(vm.namespace ?? "")/virtualmachineinstances/\(vm.name)/\(action)"
    }
}
