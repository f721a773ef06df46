import FerryAPI
import FerryApps
import FerryKube

extension BackupJob {
    /// Snapshots every CSI volume (all requested before any is waited for, with the guests of
    /// the VMs using them frozen until the snapshots are cut), then exposes each, once per range
    /// (each copy is attached wherever the scheduler puts its pod, so the ranges may be read on
    /// several nodes at once); returns the units, the volumes that failed and warnings.
    func expose(
        _ volumes: [VolumeUnits.Snapshotted], startingAt first: Int, ranges: (VolumeFacts) -> [Range<Int>?], owner: ExposureOwner,
        plan: KubeObject, exposer: SnapshotExposer, afterCut: (@Sendable () async -> Void)? = nil
    ) async -> ([VolumeTransferSpec], [VolumeUnits.NotMoved], [String]) {
        var failed: [VolumeUnits.NotMoved] = []
        var machines: [ObjectReference] = []
        for vm in volumes.flatMap({ $0.volume.usedBy }) where vm.kind == "VirtualMachine" && !machines.contains(vm) { machines.append(vm) }
        let guests = GuestFreeze(client: client, log: log)
        var (frozen, warnings) = await guests.freeze(machines)
        var requested: [(snapshot: String, item: VolumeUnits.Snapshotted)] = []
        for (offset, item) in volumes.enumerated() {
            let name = owner.name(first + offset)
            do {
                try await exposer.snapshot(
                    item.volume, snapshotClass: item.snapshotClass, name: name,
                    namespace: item.volume.claim.namespace ?? owner.namespace, owner: owner, plan: plan,
                    chain: item.unit.snapshotName ?? "")
                requested.append((name, item))
            } catch {
                failed.append(.init(claim: item.unit.volume, reason: "\(error)", phase: .failed))
            }
        }
        if !frozen.isEmpty || afterCut != nil {
            for (snapshot, item) in requested {
                await exposer.waitUntilCut(snapshot, namespace: item.volume.claim.namespace ?? owner.namespace)
            }
            if !frozen.isEmpty { warnings += await guests.thaw(frozen) }
            frozen = []
            await afterCut?()
        }
        // A volume is exposed whole (every range) or not read at all.
        let outcomes = await withTaskGroup(of: ([VolumeTransferSpec], VolumeUnits.NotMoved?).self) { group in
            for (snapshot, item) in requested {
                let units = ranges(item.volume).map { pages in
                    var unit = item.unit
                    unit.pages = pages
                    return unit
                }
                group.addTask {
                    do {
                        return (
                            try await exposer.expose(
                                item.volume, name: snapshot, namespace: item.volume.claim.namespace ?? owner.namespace,
                                units: units, owner: owner), nil
                        )
                    } catch {
                        return ([], .init(claim: item.unit.volume, reason: "\(error)", phase: .failed))
                    }
                }
            }
            var all: [([VolumeTransferSpec], VolumeUnits.NotMoved?)] = []
            for await outcome in group { all.append(outcome) }
            return all
        }
        let exposed = outcomes.flatMap(\.0).sorted { ($0.volume, $0.pages?.lowerBound ?? 0) < ($1.volume, $1.pages?.lowerBound ?? 0) }
        return (exposed, failed + outcomes.compactMap(\.1), warnings)
    }
}
