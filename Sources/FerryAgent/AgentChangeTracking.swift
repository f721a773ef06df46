import FerryAPI
import FerryCSI
import FerryKube
import FerryMover
import FerryRepo
import FerryVolume

/// How the agent learns what changed in a unit's source since the parent backup: for an
/// exposed CSI snapshot whose driver has a SnapshotMetadata service, that service, asked with a
/// token of the agent's own ServiceAccount for the service's audience (KEP-3314); otherwise
/// what `ChangeTrackerSelection` chooses in `auto` mode (a qcow2 disk image's persistent dirty
/// bitmap). When a provider cannot be used, the reason goes into the manifest.
struct AgentChangeTracking: Sendable {
    /// The agent's ServiceAccount (`namespace/name`), whose tokens the service accepts.
    let serviceAccount: (namespace: String, name: String)?
    let client: KubeClient

    func tracker(for spec: VolumeTransferSpec, source: any BlockSource, parent: VolumeManifest?) async -> (any ChangeTracker)? {
        let csi: ChangeTrackerSelection.CSISource? = if let source = spec.csi { await csiSource(source) } else { nil }
        return try? ChangeTrackerSelection.tracker(.auto, source: source, parent: parent, csi: csi)
    }

    private func csiSource(_ csi: CSIChangeSource) async -> ChangeTrackerSelection.CSISource {
        guard let serviceAccount else {
            return .unusable(
                reason: "the agent was started without --service-account, so it cannot authenticate to the SnapshotMetadata service")
        }
        let endpoint: SnapshotMetadataEndpoint
        do {
            endpoint = try SnapshotMetadataEndpoint(address: csi.address, caCertBase64: csi.caCert)
        } catch {
            return .unusable(reason: "\(error)")
        }
        let token: String
        do {
            token = try await client.requestToken(
                serviceAccount: serviceAccount.name, namespace: serviceAccount.namespace, audiences: [csi.audience])
        } catch {
            return .unusable(
                reason:
                    "no token of ServiceAccount \(serviceAccount.namespace)/\(serviceAccount.name) for audience \(csi.audience): \(error)")
        }
        let metadata = SnapshotMetadataClient(endpoint: endpoint, securityToken: token, namespace: csi.namespace)
        return .tracker(CSIChangeTracker(client: metadata, snapshotName: csi.snapshot, snapshotHandle: csi.snapshotHandle))
    }
}
