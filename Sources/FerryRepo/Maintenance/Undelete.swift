import FerryBlob
import Foundation

/// `ferry repo undelete --point-in-time TIME`: removes the delete markers made after `time` on
/// the repository's data (config, keys, packs, index, snapshots), so the versions they hid are
/// current again. Only on a versioned store; under the prune lock, so no prune runs meanwhile.
/// Leases and prune marks (sessions, locks, prune/) are left as they are: bringing back a
/// mark whose sweep already ran, or a dead session, would be wrong.
public struct Undelete: Sendable {
    public let store: any ObjectStore
    public let time: Date

    public init(store: any ObjectStore, after time: Date) {
        self.store = store
        self.time = time
    }

    /// What an undelete did.
    public struct Report: Codable, Sendable {
        /// Delete markers removed.
        public var markersRemoved = 0
        /// Objects current again.
        public var objectsRestored: [String] = []
    }

    public func run() async throws -> Report {
        guard let versions = store.capabilities.versions else {
            throw RepositoryError.invalidArgument(
                "\(store.location) keeps no object versions: only S3 buckets with versioning can be undeleted")
        }
        return try await PruneLock.holding(store: store) { try await undelete(versions) }
    }

    private func undelete(_ versions: any VersionedObjectStore) async throws -> Report {
        var report = Report()
        var restored: Set<String> = []
        for prefix in ObjectLockPolicy.lockedPrefixes {
            let entries = try await Repository.wrap { try await versions.listVersions(prefix: prefix) }
            let markers = entries.filter { $0.isDeleteMarker && $0.lastModified > time && (prefix.hasSuffix("/") || $0.name == prefix) }
            for marker in markers {
                try await Repository.wrap { try await versions.deleteVersion(of: marker.name, version: marker.version) }
                report.markersRemoved += 1
                if entries.contains(where: { $0.name == marker.name && !$0.isDeleteMarker }) { restored.insert(marker.name) }
            }
        }
        report.objectsRestored = restored.sorted()
        return report
    }
}
