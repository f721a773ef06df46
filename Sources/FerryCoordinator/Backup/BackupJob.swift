import FerryAPI
import FerryApps
import FerryKube
import FerryRepo
import FerryResources
import FerrySystem
import Foundation

/// Carries out one `Backup`: reads its plan and target, discovers the application within the
/// plan's namespace (`plan`), has its volumes stored by agents — CSI volumes snapshotted and
/// exposed first (`BackupJob+Expose`) — captures its objects into the target's repository and
/// commits one snapshot, then applies the plan's retention (`BackupJob+Commit`). The outcome
/// goes into the Backup's status.
struct BackupJob: Sendable {
    let context: JobContext
    let backup: Backup

    var client: KubeClient { context.client }
    var log: @Sendable (String) -> Void { context.log }

    /// Runs the backup; every failure ends in the status (phase Failed with the reason).
    func run(attempt: String) async {
        await context.carryOut(backup, timeoutText: backup.spec.timeout, attempt: attempt) { try await perform() }
    }

    func perform() async throws -> BackupStatus {
        let namespace = backup.namespace ?? ""
        let plan = try await plan()
        let target = try await context.ferry.get(Target.self, namespace: namespace, name: plan.spec.target, neededBy: plan.label)
        // The commit's write session reads the index; retention reads only manifests.
        let repository = try await context.connector.open(target, loadIndex: false)
        let (scope, selectors) = try await scope(of: plan)
        let owner = ExposureOwner(backup.object, clusterWide: plan.kind == .clusterBackupPlan)

        var result: DiscoveryResult
        do {
            var options = ApplicationDiscovery<KubeClient>.Options()
            options.exclusions = plan.spec.exclude ?? []
            result = try await ApplicationDiscovery(api: client, options: options).discover(selectors, scope: scope)
        } catch {
            throw ClusterError.kube(error)
        }
        guard !result.components.isEmpty else {
            throw ClusterError.invalidSpec(
                object: plan.label, field: "spec.components", message: "\(result.application) found nothing in \(scope)")
        }
        // The plan's hooks bracket the snapshot cut: pre hooks now (a failed Fail hook ends the
        // Backup before anything is cut), post hooks once every volume is cut, or read when it
        // is read in place (always, once the pre hooks ran).
        var runner = HookRunner(client: client, log: log)
        // The parsed objects are most of a big Backup's memory: from here on it keeps them in
        // their stored form, and the rest of the result (volumes, issues).
        let captured: CapturedResources
        do {
            let membership = ComponentMembership.of(result)
            let allHooks = (plan.spec.hooks?.pre ?? []) + (plan.spec.hooks?.post ?? [])
            if allHooks.contains(where: { $0.component != nil }) {
                runner.components = ComponentPods(
                    members: result.components.map { .init(object: $0.object, components: membership[$0.reference] ?? []) })
            }
            captured = ResourceCapture.capture(result, membership: membership)
        }
        let hooks = BackupHookBracket(
            runner: runner, hooks: plan.spec.hooks, namespaces: Self.namespaces(of: scope), backup: backup, status: context.status)
        result.components = []
        HeapTrim.returnFreeMemory()
        try await hooks.pre()
        do {
            return try await store(
                plan: plan, result: result, captured: captured, repository: repository, owner: owner, hooks: hooks)
        } catch {
            await hooks.post()
            throw error
        }
    }

    /// Has the volumes stored (the post hooks run once they are cut) and commits the snapshot.
    func store(
        plan: ResolvedPlan, result: DiscoveryResult, captured: CapturedResources, repository: Repository, owner: ExposureOwner,
        hooks: BackupHookBracket
    ) async throws -> BackupStatus {
        let namespace = backup.namespace ?? ""
        // Volumes first: agents store them; this process commits the snapshot once all are done.
        var freezeWarnings: [String] = []
        var (specs, snapshotted, notMoved) = VolumeUnits.plan(
            result.volumes, backup: backup.name, target: plan.spec.target,
            snapshotName: plan.snapshotName)
        // A large volume becomes several units, each a range of whole block-map pages.
        let ranges = { (facts: VolumeFacts?) -> [Range<Int>?] in
            guard plan.rangesPerVolume > 1, let size = facts?.sizeBytes else { return [nil] }
            let split = VolumeRanges.split(
                size: size, blockSize: repository.config.blockSize, pageEntries: repository.config.blockMapPageEntries,
                count: plan.rangesPerVolume, minimumBytes: plan.minimumRangeSize)
            return split.count > 1 ? split : [nil]
        }
        let facts = Dictionary(result.volumes.map { ("\($0.claim.namespace ?? "")/\($0.claim.name)", $0) }) { first, _ in first }
        specs = specs.flatMap { spec in
            ranges(facts[spec.volume]).map { pages in
                var unit = spec
                unit.pages = pages
                return unit
            }
        }
        // Volumes read in place are cut when they are read; snapshots when they exist.
        let readInPlace = !specs.isEmpty
        if !snapshotted.isEmpty {
            if let exposer = context.exposer {
                let afterCut: (@Sendable () async -> Void)? = readInPlace || hooks.isEmpty ? nil : { @Sendable in await hooks.post() }
                let (exposed, failed, warnings) = await expose(
                    snapshotted, startingAt: specs.count, ranges: ranges, owner: owner, plan: plan.object,
                    exposer: exposer, afterCut: afterCut)
                specs += exposed
                notMoved += failed
                freezeWarnings = warnings
            } else {
                notMoved += snapshotted.map {
                    .init(
                        claim: $0.unit.volume,
                        reason:
                            "a CSI volume: the coordinator has no image for the pods that expose snapshots (--exposer-image, FERRY_IMAGE)")
                }
            }
        }
        // Exposure objects live in their volumes' namespaces.
        let exposureNamespaces = Set(snapshotted.map { $0.volume.claim.namespace ?? namespace })
        let exposer = context.exposer
        let cleanup = { @Sendable (keep: Set<String>) async in
            for namespace in exposureNamespaces.sorted() { await exposer?.cleanup(namespace: namespace, owner: owner, keep: keep) }
        }
        let units = VolumeUnits(context)
        var finished: [VolumeTransfer] = []
        if !specs.isEmpty {
            do {
                finished = try await units.run(specs, for: backup, repository: repository.config.id, notMoved: notMoved)
            } catch {
                await cleanup([])
                throw error
            }
        }
        await hooks.post()
        freezeWarnings += await hooks.warnings
        // Snapshots read with the driver's change tracking may become the next delta's bases.
        var bases: [String: String] = [:]
        for spec in specs { if let csi = spec.csi { bases[spec.volume] = csi.snapshot } }
        await cleanup(Set(bases.values))
        do {
            let (outcome, stored) = try await commit(
                plan: plan, result: result, captured: captured, finished: finished, notMoved: notMoved, warnings: freezeWarnings,
                repository: repository)
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

    /// The namespaces hooks look for pods in: the plan's, or a cluster plan's (each of them).
    static func namespaces(of scope: DiscoveryScope) -> [String] {
        switch scope {
        case .namespace(let namespace): return [namespace]
        case .cluster(let namespaces): return (namespaces ?? []).sorted()
        }
    }

    /// The Backup's plan: its `plan` in its namespace, or its `clusterPlan`, which only Backups
    /// in the coordinator's own namespace may name.
    func plan() async throws(ClusterError) -> ResolvedPlan {
        let namespace = backup.namespace ?? ""
        if let clusterPlan = backup.spec.clusterPlan, !clusterPlan.isEmpty {
            guard let adminNamespace = context.adminNamespace, namespace == adminNamespace else {
                throw .invalidSpec(
                    object: backup.label, field: "spec.clusterPlan",
                    message: "a Backup of a ClusterBackupPlan must be in namespace \(context.adminNamespace ?? "(none)"), where Ferry runs")
            }
            return try ResolvedPlan(
                try await context.ferry.get(ClusterBackupPlan.self, namespace: nil, name: clusterPlan, neededBy: backup.label))
        }
        guard let name = backup.spec.plan, !name.isEmpty else {
            throw .invalidSpec(object: backup.label, field: "spec.plan", message: "required")
        }
        return try ResolvedPlan(try await context.ferry.get(BackupPlan.self, namespace: namespace, name: name, neededBy: backup.label))
    }

    /// Where discovery may look, and what it looks for: the plan's namespace; or a cluster
    /// plan's namespaces (named and selected, as they are now), each whole if it says so.
    func scope(of plan: ResolvedPlan) async throws(ClusterError) -> (DiscoveryScope, [ApplicationSelector]) {
        guard plan.kind == .clusterBackupPlan else { return (.namespace(plan.namespace), plan.selectors) }
        var namespaces = Set(plan.namespaces)
        if let selector = plan.namespaceSelector {
            let resource = try await context.resource("v1", "Namespace")
            do {
                for object in try await client.listAll(resource, namespace: nil, labelSelector: selector.description) {
                    namespaces.insert(object.name)
                }
            } catch {
                throw .kube(error)
            }
        }
        guard !namespaces.isEmpty else {
            throw .invalidSpec(object: plan.label, field: "spec.namespaceSelector", message: "selects no namespace")
        }
        return (.cluster(namespaces: namespaces), plan.selectors + (plan.wholeNamespaces ? namespaces.sorted().map { .namespace($0) } : []))
    }
}
