import FerryCSI
import FerryKube
import FerryRepo
import FerryVolume

/// How the agent learns what changed in a unit's source since the parent backup: for an
/// exposed CSI snapshot whose driver has a SnapshotMetadata service, that service, asked with a
/// token of the agent's own ServiceAccount for the service's audience (KEP-3314); for a qcow2
/// disk image (a KubeVirt VM's), its persistent dirty bitmap, the one the parent recorded or the
/// only enabled one. Without either the backup compares every block with the parent
/// (VolumeBackup's fallback); when a provider cannot be used, the reason goes into the manifest.
struct AgentChangeTracking: Sendable {
    /// The agent's ServiceAccount (`namespace/name`), whose tokens the service accepts.
    let serviceAccount: (namespace: String, name: String)?
    let client: KubeClient

    func tracker(for spec: VolumeTransferSpec, source: any BlockSource, parent: VolumeManifest?) async -> (any ChangeTracker)? {
        guard let csi = spec.csi else {
            guard let image = source as? QCOW2BlockSource else { return nil }
            let record = parent?.changeTracking
            let bookmark = record?.bookmarkProvider.map { CBTBookmark(provider: $0, fields: record?.bookmark ?? [:]) }
            return try? QCOW2BitmapTracker.choose(source: image, name: nil, parent: bookmark)
        }
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
