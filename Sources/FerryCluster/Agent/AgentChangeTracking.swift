import FerryCSI
import FerryKube
import FerryVolume

/// How the agent learns what changed in a unit's source since the parent backup: for an
/// exposed CSI snapshot whose driver has a SnapshotMetadata service, that service, asked with a
/// token of the agent's own ServiceAccount for the service's audience (KEP-3314). Without one
/// the backup compares every block with the parent (VolumeBackup's fallback); when the service
/// cannot be used, the reason goes into the manifest.
struct AgentChangeTracking: Sendable {
    /// The agent's ServiceAccount (`namespace/name`), whose tokens the service accepts.
    let serviceAccount: (namespace: String, name: String)?
    let client: KubeClient

    func tracker(for spec: VolumeTransferSpec) async -> (any ChangeTracker)? {
        guard let csi = spec.csi else { return nil }
        guard let serviceAccount else {
            return Unusable(reason: "the agent was started without --service-account, so it cannot authenticate to the SnapshotMetadata service")
        }
        let endpoint: SnapshotMetadataEndpoint
        do {
            endpoint = try SnapshotMetadataEndpoint(address: csi.address, caCertBase64: csi.caCert)
        } catch {
            return Unusable(reason: "\(error)")
        }
        let token: String
        do {
            token = try await client.requestToken(serviceAccount: serviceAccount.name, namespace: serviceAccount.namespace, audiences: [csi.audience])
        } catch {
            return Unusable(reason: "no token of ServiceAccount \(serviceAccount.namespace)/\(serviceAccount.name) for audience \(csi.audience): \(error)")
        }
        let metadata = SnapshotMetadataClient(endpoint: endpoint, securityToken: token, namespace: csi.namespace)
        return CSIChangeTracker(client: metadata, snapshotName: csi.snapshot, snapshotHandle: csi.snapshotHandle)
    }

    /// Stands for the CSI tracker when it cannot be reached: every block is compared, and the
    /// reason is recorded.
    struct Unusable: ChangeTracker {
        let reason: String
        var provider: String { CSIChangeTracker.providerName }
        func changes(since bookmark: CBTBookmark, size: Int64) async throws -> CBTChanges { .unusable(reason: reason) }
        func allocatedRanges(size: Int64) async throws -> [Range<Int64>]? { nil }
        func currentBookmark() async throws -> CBTBookmark? { nil }
    }
}
