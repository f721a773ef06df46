import FerryAPI
import FerryApps
import FerryCSI
import FerryKube
import FerryRepo
import FerryResources
import Foundation

extension BackupJob {
    /// Records the volumes the agents stored and the captured objects as one snapshot, applies
    /// the plan's retention; returns the Backup's final status and the names of the volumes
    /// stored with a CSI bookmark (their snapshots are the next deltas' bases).
    func commit(
        plan: ResolvedPlan, result: DiscoveryResult, captured: CapturedResources, finished: [VolumeTransfer],
        notMoved: [VolumeUnits.NotMoved],
        warnings extra: [String], repository: Repository
    ) async throws -> (BackupStatus, [String]) {
        let namespace = backup.namespace ?? ""
        var volumes: [VolumeManifest] = []
        var failures: [String] = []
        var claims: [String] = []
        var unitsOf: [String: [VolumeTransfer]] = [:]
        for unit in finished {
            let claim = unit.spec.volume
            if unitsOf[claim] == nil { claims.append(claim) }
            unitsOf[claim, default: []].append(unit)
        }
        // A Backup deleted while its volumes were read commits nothing.
        try Task.checkCancellation()
        let session = try await repository.beginSession()
        let snapshot: ChunkID
        let stored: Int64
        let resources: ResourceManifest
        do {
            // A volume is stored when every one of its ranges is; the ranges join into one block map.
            for claim in claims {
                let units = unitsOf[claim] ?? []
                if let failed = units.first(where: { $0.phase != .succeeded || $0.status.result == nil }) {
                    let range = units.count > 1 ? " (range \(failed.name))" : ""
                    failures.append("volume \(claim)\(range): \(failed.status.message ?? "failed")")
                    continue
                }
                do {
                    var parts: [VolumeRanges.Part] = []
                    for unit in units {
                        var volume = unit.status.result!
                        if let list = unit.status.pageList {
                            volume.pages = try await list.load(from: session.repository, volume: volume.name)
                        }
                        parts.append(VolumeRanges.Part(firstPage: unit.status.firstPage ?? 0, volume: volume))
                    }
                    volumes.append(try VolumeRanges.join(parts))
                } catch let error as RepositoryError {
                    failures.append("volume \(claim): the agents' page list cannot be read: \(error)")
                } catch {
                    failures.append("volume \(claim): the agents' results do not make a volume manifest: \(error)")
                }
            }
            try await Self.verifyStored(volumes, in: session)
            resources = try await ResourceCapture.store(captured, in: session)
            let manifest = SnapshotManifest(
                time: Date(), name: plan.snapshotName, hostname: ProcessInfo.processInfo.hostName, parent: nil, session: session.id,
                volumes: volumes,
                resources: resources,
                tags: ["backup": backup.name, plan.kind == .clusterBackupPlan ? "clusterPlan" : "plan": plan.name, "namespace": namespace])
            (snapshot, stored) = try await session.commit(manifest)
        } catch {
            await session.end()
            throw error
        }
        var warnings = result.issues.map(\.description)
        warnings += notMoved.map { "volume \($0.claim) not moved: \($0.reason)" }
        warnings += extra
        failures += notMoved.filter { $0.phase == .failed }.map { "volume \($0.claim): \($0.reason)" }
        let incomplete =
            result.issues.contains { [.forbidden, .failed, .malformed].contains($0.kind) } || !failures.isEmpty || !notMoved.isEmpty
        // Only a complete backup may make older ones redundant; even then the newest copy of
        // every volume is kept (Forget's guard).
        if let retention = plan.retention, !incomplete {
            let snapshots = try await repository.snapshots().snapshots.filter { $0.manifest.name == plan.snapshotName }
            let removed = try await Forget.apply(Forget.decide(snapshots, policy: retention), to: repository)
            if removed > 0 { log("\(backup.label): retention removed \(removed) older snapshot(s) of \(plan.snapshotName)") }
        }
        let lastBackup = plan.kind == .clusterBackupPlan ? "\(namespace)/\(backup.name)" : backup.name
        try? await context.status.updatePlan(plan) {
            $0.lastBackup = lastBackup
            $0.lastBackupTime = Date()
            $0.lastBackupPhase = incomplete ? .partiallyFailed : .completed
        }
        var status = BackupStatus()
        status.phase = incomplete ? .partiallyFailed : .completed
        status.snapshot = snapshot.hex
        status.resources = resources.count
        status.bytesStored = stored + volumes.reduce(0) { $0 + $1.stats.bytesStored }
        status.record(volumes: VolumeUnits.summary(finished, notMoved: notMoved))
        status.warnings = warnings.isEmpty ? nil : warnings
        status.errors = failures.isEmpty ? nil : failures
        return (status, volumes.filter { $0.changeTracking?.bookmarkProvider == CSIChangeTracker.providerName }.map(\.name))
    }

    /// Every block-map page and block the agents' volumes reference must still be stored and not
    /// marked for deletion as this session sees the index: a prune that ran between an agent's
    /// session and this one may have claimed them (the backup must then run again).
    static func verifyStored(_ volumes: [VolumeManifest], in session: WriteSession) async throws {
        var checked = Set<ChunkID>()
        for volume in volumes {
            for page in 0..<volume.pageCount {
                let id = try volume.pageID(page)
                // Pages of the same content (a sparse volume's empty ones) are checked once.
                guard checked.insert(id).inserted else { continue }
                guard session.holds(id) else {
                    throw ClusterError.repository(
                        """
                        volume \(volume.name): block-map page \(id.short) \
                        is no longer stored (a prune ran meanwhile); run the backup again
                        """
                    )
                }
                for entry in try await session.repository.blockMapPage(volume, page: page).entries
                where !entry.isZero && !session.holds(entry) {
                    throw ClusterError.repository(
                        "volume \(volume.name): chunk \(entry.short) is no longer stored (a prune ran meanwhile); run the backup again")
                }
            }
        }
    }
}
