import FerryApps
import FerryCSI
import FerryKube
import FerryMover
import FerryRepo
import FerryResources
import Foundation

/// What the coordinator needs to carry out Backups and Restores (`JobRunner+Backup`,
/// `JobRunner+Restore`).
struct JobRunner: Sendable {
    let client: KubeClient
    let connector: TargetConnector
    let status: StatusWriter
    let timing: VolumeUnits.Timing
    /// Exposes CSI snapshots and attaches restored claims for agents; nil when no image is
    /// configured for its pods.
    let exposer: SnapshotExposer?
    /// The coordinator's own namespace: only Backups and Restores there may be cluster-wide.
    let adminNamespace: String?
    let log: @Sendable (String) -> Void
}

/// Carries out one `Backup`: reads its plan and target, discovers the application within the
/// plan's namespace, has its volumes stored by agents, captures its objects into the target's
/// repository, applies the plan's retention, and records the outcome in the Backup's status.
extension JobRunner {
    /// Runs the backup; every failure ends in the status (phase Failed with the reason).
    func backup(_ backup: KubeObject, attempt: String) async {
        await status.carryOut(.backup, backup, attempt: attempt, log: log) { try await performBackup(backup) }
    }

    func performBackup(_ backup: KubeObject) async throws -> JSONValue {
        let namespace = backup.namespace ?? ""
        let (planObject, plan) = try await plan(of: backup)
        let target = try TargetSpec(try await FerryKind.target.get(client, namespace: namespace, name: plan.target, neededBy: plan.label))
        // The commit's write session reads the index; retention reads only manifests.
        let repository = try await connector.open(target, loadIndex: false)
        let (scope, selectors) = try await scope(of: plan)
        let owner = ExposureOwner(backup, clusterWide: plan.kind == .clusterBackupPlan)

        let result: DiscoveryResult
        do {
            result = try await ApplicationDiscovery(api: client).discover(selectors, scope: scope)
        } catch {
            throw ClusterError.kube(error)
        }
        guard !result.components.isEmpty else {
            throw ClusterError.invalidSpec(object: plan.label, field: "spec.components", message: "\(result.application) found nothing in \(scope)")
        }
        // Volumes first: agents store them; this process commits the snapshot once all are done.
        var freezeWarnings: [String] = []
        var (specs, snapshotted, notMoved) = VolumeUnits.plan(result.volumes, backup: backup.name, target: plan.target, snapshotName: plan.snapshotName)
        // A large volume becomes several units, each a range of whole block-map pages.
        let ranges = { (facts: VolumeFacts?) -> [Range<Int>?] in
            guard plan.rangesPerVolume > 1, let size = facts?.sizeBytes else { return [nil] }
            let split = VolumeRanges.split(size: size, blockSize: repository.config.blockSize, pageEntries: repository.config.blockMapPageEntries,
                                           count: plan.rangesPerVolume, minimumBytes: plan.minimumRangeSize)
            return split.count > 1 ? split : [nil]
        }
        specs = specs.flatMap { spec in
            ranges(result.volumes.first { "\($0.claim.namespace ?? "")/\($0.claim.name)" == spec.volume }).map { pages in
                var unit = spec
                unit.pages = pages
                return unit
            }
        }
        if !snapshotted.isEmpty {
            if let exposer {
                let (exposed, failed, warnings) = await expose(snapshotted, startingAt: specs.count, ranges: ranges, owner: owner, plan: planObject,
                                                               exposer: exposer)
                specs += exposed
                notMoved += failed
                freezeWarnings = warnings
            } else {
                notMoved += snapshotted.map {
                    .init(claim: $0.unit.volume, reason: "a CSI volume: the coordinator has no image for the pods that expose snapshots (--exposer-image, FERRY_IMAGE)")
                }
            }
        }
        // Exposure objects live in their volumes' namespaces.
        let exposureNamespaces = Set(snapshotted.map { $0.volume.claim.namespace ?? namespace })
        let cleanup = { @Sendable (keep: Set<String>) async in
            for namespace in exposureNamespaces.sorted() { await exposer?.cleanup(namespace: namespace, owner: owner, keep: keep) }
        }
        let units = VolumeUnits(client: client, status: status, timing: timing, log: log)
        var finished: [KubeObject] = []
        if !specs.isEmpty {
            do {
                finished = try await units.follow(try await units.create(specs, for: backup), of: backup, notMoved: notMoved)
            } catch {
                await cleanup([])
                throw error
            }
        }
        // Snapshots read with the driver's change tracking may become the next delta's bases.
        var bases: [String: String] = [:]
        for spec in specs { if let csi = spec.csi { bases[spec.volume] = csi.snapshot } }
        await cleanup(Set(bases.values))
        do {
            let (outcome, stored) = try await commit(backup, plan: plan, planObject: planObject, result: result, finished: finished, notMoved: notMoved,
                                                     warnings: freezeWarnings, repository: repository)
            let committed = Set(stored.compactMap { bases[$0] })
            for namespace in exposureNamespaces.sorted() {
                await exposer?.dropSnapshots(namespace: namespace, owner: owner, except: committed)
                await exposer?.replaceBases(namespace: namespace, owner: owner, with: committed)
            }
            return outcome
        } catch {
            await cleanup([])
            throw error
        }
    }

    /// The Backup's plan: its `plan` in its namespace, or its `clusterPlan`, which only Backups
    /// in the coordinator's own namespace may name.
    func plan(of backup: KubeObject) async throws -> (KubeObject, BackupPlanSpec) {
        let namespace = backup.namespace ?? ""
        if let clusterPlan = backup.optionalString("clusterPlan") {
            guard let adminNamespace, namespace == adminNamespace else {
                throw ClusterError.invalidSpec(object: backup.label, field: "spec.clusterPlan",
                                               message: "a Backup of a ClusterBackupPlan must be in namespace \(adminNamespace ?? "(none)"), where Ferry runs")
            }
            let object = try await FerryKind.clusterBackupPlan.get(client, namespace: "", name: clusterPlan, neededBy: backup.label)
            return (object, try BackupPlanSpec(object))
        }
        let object = try await FerryKind.backupPlan.get(client, namespace: namespace, name: try backup.requiredString("plan"), neededBy: backup.label)
        return (object, try BackupPlanSpec(object))
    }

    /// Where discovery may look, and what it looks for: the plan's namespace; or a cluster
    /// plan's namespaces (named and selected, as they are now), each whole if it says so.
    func scope(of plan: BackupPlanSpec) async throws -> (DiscoveryScope, [ApplicationSelector]) {
        guard plan.kind == .clusterBackupPlan else { return (.namespace(plan.namespace), plan.selectors) }
        var namespaces = Set(plan.namespaces)
        if let selector = plan.namespaceSelector {
            do {
                let resource = try await client.resource(apiVersion: "v1", kind: "Namespace")
                for object in try await client.listAll(resource, namespace: nil, labelSelector: selector.description) { namespaces.insert(object.name) }
            } catch {
                throw ClusterError.kube(error)
            }
        }
        guard !namespaces.isEmpty else {
            throw ClusterError.invalidSpec(object: plan.label, field: "spec.namespaceSelector", message: "selects no namespace")
        }
        return (.cluster(namespaces: namespaces), plan.selectors + (plan.wholeNamespaces ? namespaces.sorted().map { .namespace($0) } : []))
    }

    /// Records the volumes the agents stored and the captured objects as one snapshot, applies
    /// the plan's retention; returns the Backup's final status and the names of the volumes
    /// stored with a CSI bookmark (their snapshots are the next deltas' bases).
    func commit(_ backup: KubeObject, plan: BackupPlanSpec, planObject: KubeObject, result: DiscoveryResult, finished: [KubeObject],
                notMoved: [VolumeUnits.NotMoved], warnings extra: [String], repository: Repository) async throws -> (JSONValue, [String]) {
        let namespace = backup.namespace ?? ""
        var volumes: [VolumeManifest] = []
        var failures: [JSONValue] = []
        var claims: [String] = []
        var unitsOf: [String: [KubeObject]] = [:]
        for unit in finished {
            let claim = unit["spec"]?["volume"]?.stringValue ?? unit.name
            if unitsOf[claim] == nil { claims.append(claim) }
            unitsOf[claim, default: []].append(unit)
        }
        // A volume is stored when every one of its ranges is; the ranges join into one block map.
        for claim in claims {
            let units = unitsOf[claim] ?? []
            if let failed = units.first(where: { $0["status"]?["phase"]?.stringValue != "Succeeded" || $0["status"]?["result"] == nil }) {
                let range = units.count > 1 ? " (range \(failed.name))" : ""
                failures.append(.string("volume \(claim)\(range): \(failed["status"]?["message"]?.stringValue ?? "failed")"))
                continue
            }
            do {
                let parts = try units.map { unit in
                    VolumeRanges.Part(firstPage: Int(unit["status"]?["firstPage"]?.intValue ?? 0),
                                      volume: try Repository.decoder.decode(VolumeManifest.self, from: Data(unit["status"]!["result"]!.serialized())))
                }
                volumes.append(try VolumeRanges.join(parts))
            } catch {
                failures.append(.string("volume \(claim): the agents' results do not make a volume manifest: \(error)"))
            }
        }

        let session = try await repository.beginSession()
        let snapshot: ChunkID
        let stored: Int64
        let resources: ResourceManifest
        do {
            try await Self.verifyStored(volumes, in: session)
            resources = try await ResourceCapture.store(result, in: session)
            let manifest = SnapshotManifest(
                time: Date(), name: plan.snapshotName, hostname: ProcessInfo.processInfo.hostName, parent: nil, session: session.id, volumes: volumes,
                resources: resources, tags: ["backup": backup.name, plan.kind == .clusterBackupPlan ? "clusterPlan" : "plan": plan.name, "namespace": namespace])
            (snapshot, stored) = try await session.commit(manifest)
        } catch {
            await session.end()
            throw error
        }
        var warnings = result.issues.map { JSONValue.string($0.description) }
        warnings += notMoved.map { .string("volume \($0.claim) not moved: \($0.reason)") }
        warnings += extra.map(JSONValue.string)
        if let retention = plan.retention {
            let removed = try await applyRetention(retention, name: plan.snapshotName, repository: repository)
            if removed > 0 { log("\(backup.label): retention removed \(removed) older snapshot(s) of \(plan.snapshotName)") }
        }
        failures += notMoved.filter { $0.phase == "Failed" }.map { .string("volume \($0.claim): \($0.reason)") }
        let incomplete = result.issues.contains { [.forbidden, .failed, .malformed].contains($0.kind) } || !failures.isEmpty || !notMoved.isEmpty
        try? await status.patch(plan.kind, planObject, ["lastBackup": .string(plan.kind == .clusterBackupPlan ? "\(namespace)/\(backup.name)" : backup.name), "lastBackupTime": StatusWriter.now()])
        let status: JSONValue = [
            "phase": .string(incomplete ? "PartiallyFailed" : "Completed"), "snapshot": .string(snapshot.hex),
            "resources": .int(Int64(resources.count)), "bytesStored": .int(stored + volumes.reduce(0) { $0 + $1.stats.bytesStored }),
            "volumes": .array(VolumeUnits.summary(finished, notMoved: notMoved)),
            "warnings": warnings.isEmpty ? .null : .array(warnings), "errors": failures.isEmpty ? .null : .array(failures),
        ]
        return (status, volumes.filter { $0.changeTracking?.bookmarkProvider == CSIChangeTracker.providerName }.map(\.name))
    }

    /// Snapshots every CSI volume (all requested before any is waited for, with the guests of
    /// the VMs using them frozen until the snapshots are cut), then exposes each, once per range
    /// (each copy is attached wherever the scheduler puts its pod, so the ranges may be read on
    /// several nodes at once); returns the units, the volumes that failed and warnings.
    func expose(_ volumes: [VolumeUnits.Snapshotted], startingAt first: Int, ranges: (VolumeFacts) -> [Range<Int>?], owner: ExposureOwner, plan: KubeObject,
                exposer: SnapshotExposer) async
        -> ([VolumeTransferSpec], [VolumeUnits.NotMoved], [String]) {
        var failed: [VolumeUnits.NotMoved] = []
        var machines: [ObjectReference] = []
        for vm in volumes.flatMap({ $0.volume.usedBy }) where vm.kind == "VirtualMachine" && !machines.contains(vm) { machines.append(vm) }
        let guests = GuestFreeze(client: client, log: log)
        var (frozen, warnings) = await guests.freeze(machines)
        var requested: [(snapshot: String, item: VolumeUnits.Snapshotted)] = []
        for (offset, item) in volumes.enumerated() {
            let name = owner.name(first + offset)
            do {
                try await exposer.snapshot(item.volume, snapshotClass: item.snapshotClass, name: name,
                                           namespace: item.volume.claim.namespace ?? owner.namespace, owner: owner, plan: plan, chain: item.unit.snapshotName ?? "")
                requested.append((name, item))
            } catch {
                failed.append(.init(claim: item.unit.volume, reason: "\(error)", phase: "Failed"))
            }
        }
        if !frozen.isEmpty {
            for (snapshot, item) in requested { await exposer.waitUntilCut(snapshot, namespace: item.volume.claim.namespace ?? owner.namespace) }
            warnings += await guests.thaw(frozen)
            frozen = []
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
                        return (try await exposer.expose(item.volume, name: snapshot, namespace: item.volume.claim.namespace ?? owner.namespace,
                                                         units: units, owner: owner), nil)
                    } catch {
                        return ([], .init(claim: item.unit.volume, reason: "\(error)", phase: "Failed"))
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

    /// Every block-map page and block the agents' volumes reference must still be stored and not
    /// marked for deletion as this session sees the index: a prune that ran between an agent's
    /// session and this one may have claimed them (the backup must then run again).
    static func verifyStored(_ volumes: [VolumeManifest], in session: WriteSession) async throws {
        for volume in volumes {
            for page in 0..<volume.pageCount {
                let id = try volume.pageID(page)
                guard session.holds(id) else { throw ClusterError.repository("volume \(volume.name): block-map page \(id.short) is no longer stored (a prune ran meanwhile); run the backup again") }
                for entry in try await session.repository.blockMapPage(volume, page: page).entries where !entry.isZero && !session.holds(entry) {
                    throw ClusterError.repository("volume \(volume.name): chunk \(entry.short) is no longer stored (a prune ran meanwhile); run the backup again")
                }
            }
        }
    }

    /// Forgets the plan's snapshots the policy does not keep (prune reclaims their space).
    func applyRetention(_ policy: RetentionPolicy, name: String, repository: Repository) async throws -> Int {
        let snapshots = try await repository.snapshots().snapshots.filter { $0.manifest.name == name }
        let removals = policy.apply(to: snapshots, calendar: Calendar(identifier: .gregorian)).filter { !$0.keep }.map { ObjectName.snapshot($0.snapshot.id) }
        if !removals.isEmpty { try await repository.store.delete(removals) }
        return removals.count
    }
}

extension JSONValue {
    /// This object with `other`'s members added (replacing same-named ones).
    func merging(_ other: JSONValue) -> JSONValue {
        guard case .object(var members) = self, case .object(let extra) = other else { return self }
        for (key, value) in extra { members[key] = value }
        return .object(members)
    }
}
