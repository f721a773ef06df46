import FerryVolume

/// Changed-block tracking from a CSI SnapshotMetadata service (design §4, provider 1): the delta
/// between the previous backup's VolumeSnapshot (its CSI handle, from the bookmark) and the
/// VolumeSnapshot being backed up now; the allocated ranges for a first full backup. The bookmark
/// it records is this snapshot's CSI handle, the base of the next delta.
public struct CSIChangeTracker: ChangeTracker {
    public static let providerName = "csi"
    public var provider: String { Self.providerName }

    public let client: SnapshotMetadataClient
    /// The VolumeSnapshot being backed up (in `client.namespace`).
    public let snapshotName: String
    /// Its CSI snapshot handle (VolumeSnapshotContent `status.snapshotHandle`).
    public let snapshotHandle: String

    public init(client: SnapshotMetadataClient, snapshotName: String, snapshotHandle: String) {
        self.client = client
        self.snapshotName = snapshotName
        self.snapshotHandle = snapshotHandle
    }

    public func changes(since bookmark: CBTBookmark, size: Int64) async throws -> CBTChanges {
        guard bookmark.provider == Self.providerName, let base = bookmark["snapshotHandle"], !base.isEmpty else {
            return .unusable(reason: "the parent backup recorded no CSI snapshot handle (its change tracking was \(bookmark.provider))")
        }
        guard let delta = try await client.delta(baseSnapshotID: base, targetSnapshotName: snapshotName) else {
            return .unusable(
                reason:
                    """
                    the SnapshotMetadata service cannot compute the changes since snapshot \(base) \
                    (FAILED_PRECONDITION or NOT_FOUND: the base snapshot may be gone)
                    """
            )
        }
        if let capacity = delta.volumeCapacity, capacity != size {
            return .unusable(reason: "the SnapshotMetadata service reports a \(capacity)-byte volume, but the snapshot holds \(size) bytes")
        }
        return .changed(delta.ranges)
    }

    public func allocatedRanges(size: Int64) async throws -> [Range<Int64>]? {
        guard let allocated = try await client.allocated(snapshotName: snapshotName), (allocated.volumeCapacity ?? size) == size else {
            return nil
        }
        return allocated.ranges
    }

    public func currentBookmark() async throws -> CBTBookmark? {
        CBTBookmark(
            provider: Self.providerName,
            fields: [
                "snapshotHandle": snapshotHandle, "snapshotName": snapshotName, "namespace": client.namespace,
            ])
    }
}
