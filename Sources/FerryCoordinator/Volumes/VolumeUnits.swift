import FerryAPI
import FerryApps
import FerryKube
import FerryRepo
import FerrySystem
import Foundation

/// The volumes of one Backup (or Restore) as work units: which can be read by an agent (and
/// where), the `VolumeTransfer` objects for them, and following them to the end. The
/// coordinator judges heartbeats on its own clock (when it last saw a unit's status change),
/// requeues a unit whose agent went silent for a lease, and fails one no agent claims.
struct VolumeUnits: Sendable {
    struct Timing: Sendable {
        /// A running unit whose status has not changed for this long is requeued.
        var unitLease: Duration = .seconds(60)
        /// A unit nobody claims fails once this long has passed with no unit of its node
        /// claimed or moving (no agent there). Units queued behind a busy agent wait.
        var claimTimeout: Duration = .seconds(600)
        /// A running unit whose agent reports no bytes done for this long (its read hangs) is
        /// requeued.
        var stallTimeout: Duration = .seconds(300)
        /// A unit requeued more often than this fails, with the last reason.
        var maxRequeues = 3
        var poll: Duration = .milliseconds(500)
        /// How often a job's `status.volumes` is rewritten while its units run.
        var statusInterval: Duration = .seconds(2)
    }

    /// A volume that is not moved (or whose snapshot could not be exposed: `failed`), and why.
    struct NotMoved: Sendable {
        var claim: String
        var reason: String
        var phase = VolumePhase.notMoved
    }

    /// A CSI volume to snapshot and expose before an agent can read it.
    struct Snapshotted: Sendable {
        var volume: VolumeFacts
        var snapshotClass: String
        /// The unit, with node and path filled in once the snapshot is exposed.
        var unit: VolumeTransferSpec
    }

    let ferry: FerryClient
    let status: StatusWriter
    let timing: Timing
    let log: @Sendable (String) -> Void

    init(_ context: JobContext) {
        ferry = context.ferry
        status = context.status
        timing = context.timing
        log = context.log
    }

    /// The units for the volumes an agent can read directly (block-mode volumes and VM disk
    /// images at a host path on a node), the CSI volumes to snapshot first (any mode), and the
    /// rest with the reason.
    static func plan(_ volumes: [VolumeFacts], backup: String, target: String, snapshotName: String) -> (
        [VolumeTransferSpec], [Snapshotted], [NotMoved]
    ) {
        var units: [VolumeTransferSpec] = []
        var snapshotted: [Snapshotted] = []
        var notMoved: [NotMoved] = []
        for volume in volumes {
            let claim = "\(volume.claim.namespace ?? "")/\(volume.claim.name)"
            switch volume.readMethod {
            case .hostPath(let node, let path):
                let kind = volume.hostPaths.first { $0.node == node && $0.path == path }?.kind
                if volume.mode == .block || kind == .diskImage {
                    units.append(
                        VolumeTransferSpec(
                            owner: backup, target: target, node: node, volume: claim, snapshotName: snapshotName,
                            source: .init(path: path, format: .auto)))
                } else {
                    notMoved.append(
                        NotMoved(
                            claim: claim,
                            reason:
                                """
                                a filesystem volume (\(path) on \(node)): agents read block devices and disk images; \
                                it needs a CSI snapshot, which this version does not take
                                """
                        ))
                }
            case .csiSnapshot(let snapshotClass, _):
                // A filesystem volume is read as the block device under its file system: its
                // snapshot is exposed in Block mode (SnapshotExposer).
                snapshotted.append(
                    Snapshotted(
                        volume: volume, snapshotClass: snapshotClass,
                        unit: VolumeTransferSpec(
                            owner: backup, target: target, node: "", volume: claim, snapshotName: snapshotName,
                            source: .init(path: "", format: .auto))))
            case .unavailable(let reason):
                notMoved.append(NotMoved(claim: claim, reason: reason))
            }
        }
        return (units, snapshotted, notMoved)
    }

    /// The label tying units to their Backup or Restore.
    static func ownerLabel(_ kind: FerryKind) -> String {
        kind == .restore ? FerryLabels.restore : FerryLabels.backup
    }

    /// A unit as created: what following needs of one not heard of yet.
    private struct Created: Sendable {
        var name: String
        var spec: VolumeTransferSpec
    }

    /// Creates the units (owned by the Backup or Restore, so they go with it), named
    /// `<owner>-<suffix><n>`. A unit that exists already (a coordinator restarted midway) is kept
    /// with whatever it has done.
    private func create<J: JobObject>(_ specs: [VolumeTransferSpec], for job: J, repository: String, suffix: String = "") async throws
        -> [Created]
    {
        var created: [Created] = []
        for (index, var spec) in specs.enumerated() {
            spec.repository = repository
            var unit = VolumeTransfer(
                namespace: job.namespace, name: "\(job.name)-\(suffix)\(index)", spec: spec,
                labels: [
                    FerryLabels.node: FerryLabels.nodeValue(spec.node), Self.ownerLabel(J.kind): job.name,
                ])
            if let uid = job.uid {
                unit.object.json.setValue(
                    [
                        OwnerReference(apiVersion: FerryKind.apiVersion, kind: J.kind.rawValue, name: job.name, uid: uid, controller: true)
                            .json
                    ],
                    at: ["metadata", "ownerReferences"])
            }
            do {
                _ = try await ferry.create(unit)
            } catch .kube(.alreadyExists) {
                log("\(unit.label) exists already; keeping its progress")
            }
            // The name and spec sent (its strings share the storage of `specs`), not the answer.
            created.append(Created(name: unit.name, spec: spec))
        }
        return created
    }

    /// Creates the units and follows them (through one watch) until each has succeeded or
    /// failed; keeps the owner's status current. The watch starts first, so each unit reaches it
    /// as it is created rather than in one list of all of them (10,000 parsed at once).
    func run<J: JobObject>(
        _ specs: [VolumeTransferSpec], for job: J, repository: String, suffix: String = "", notMoved: [NotMoved]
    ) async throws -> [VolumeTransfer] {
        // Thousands of units are followed at once: each is kept as its spec and status.
        let watched = WatchedChanges<VolumeTransfer>(compact: true)
        let ferry = self.ferry
        return try await withThrowingTaskGroup(of: [VolumeTransfer]?.self) { group in
            group.addTask {
                try await ferry.maintain(
                    watched, namespace: job.namespace ?? "", labelSelector: "\(Self.ownerLabel(J.kind))=\(job.name)")
                return nil
            }
            defer { group.cancelAll() }
            let created = try await create(specs, for: job, repository: repository, suffix: suffix)
            group.addTask { try await follow(created, in: watched, of: job, notMoved: notMoved) }
            while let finished = try await group.next() {
                if let units = finished { return units }
            }
            throw CancellationError()
        }
    }

    /// The follow loop, over the watched units: requeues silent and stalled units, fails
    /// unclaimed ones, and records the owner's volumes in its status when they changed (at most every
    /// `statusInterval` while units run).
    private func follow<J: JobObject>(
        _ created: [Created], in watched: WatchedChanges<VolumeTransfer>, of job: J, notMoved: [NotMoved]
    ) async throws -> [VolumeTransfer] {
        // In the order a list gives (by name), as the status has always shown them.
        let created = created.sorted { $0.name < $1.name }
        let names = Set(created.map(\.name))
        // Each unit as last heard of, the one copy kept of it (10,000 are followed at once).
        var heard: [String: VolumeTransfer] = [:]
        // Units heard of and deleted since, and units never heard of and found gone when judged.
        var deleted: Set<String> = []
        var gone: Set<String> = []
        // A unit as it is now: as last heard of, or as created while the watch is behind. A unit
        // someone deleted will never finish: it counts as failed.
        func current(_ unit: Created) -> VolumeTransfer {
            if let heard = heard[unit.name] { return heard }
            var absent = VolumeTransfer(namespace: job.namespace, name: unit.name, spec: unit.spec)
            if deleted.contains(unit.name) || gone.contains(unit.name) {
                absent.status = VolumeTransferStatus(phase: .failed, message: "the VolumeTransfer was deleted before it finished")
            }
            return absent
        }
        // A unit's version says when it changed (a copy of each status would be 10,000 copies).
        var lastChange: [String: (version: String?, at: ContinuousClock.Instant)] = [:]
        var lastProgress: [String: (attempt: String?, bytesDone: Int64?, at: ContinuousClock.Instant)] = [:]
        var reported: [VolumeProgress]?
        var lastReport = ContinuousClock.now - timing.statusInterval
        // When a unit of each node was last seen claimed, moving or ending: an agent is there.
        let started = ContinuousClock.now
        var nodeActive: [String: ContinuousClock.Instant] = [:]
        var lastTrim = started
        while true {
            guard let changes = watched.take() else {
                try await Task.sleep(for: timing.poll)
                continue
            }
            for name in changes.deleted where names.contains(name) {
                heard[name] = nil
                deleted.insert(name)
            }
            for (name, unit) in changes.changed where names.contains(name) {
                heard[name] = unit
                deleted.remove(name)
            }
            let now = ContinuousClock.now
            for entry in created {
                let unit = current(entry)
                let version = unit.object.resourceVersion ?? "deleted"
                if lastChange[unit.name]?.version != version {
                    if lastChange[unit.name] != nil, unit.phase != .pending { nodeActive[unit.spec.node] = now }
                    lastChange[unit.name] = (version, now)
                }
            }
            var done = true
            for entry in created {
                let unit = current(entry)
                done = done && unit.phase.isFinal
                if let seen = lastProgress[unit.name], seen.attempt == unit.status.attempt, seen.bytesDone == unit.status.bytesDone {
                } else {
                    lastProgress[unit.name] = (unit.status.attempt, unit.status.bytesDone, now)
                }
                let quiet = now - lastChange[unit.name]!.at
                let stalled = now - lastProgress[unit.name]!.at
                let attempt = unit.status.attempt ?? ""
                switch unit.phase {
                case .running where quiet >= timing.unitLease:
                    try await requeue(unit, because: "no heartbeat from attempt \(attempt) for \(timing.unitLease)")
                case .running where stalled >= timing.stallTimeout:
                    try await requeue(unit, because: "no progress from attempt \(attempt) for \(timing.stallTimeout)")
                case .pending where quiet >= timing.claimTimeout && now - (nodeActive[unit.spec.node] ?? started) >= timing.claimTimeout:
                    if heard[unit.name] == nil {
                        // Never heard of and still not there when judged: gone.
                        gone.insert(unit.name)
                        continue
                    }
                    try await reset(
                        unit,
                        VolumeTransferStatus(
                            phase: .failed,
                            message: "no agent on node \(unit.spec.node) claimed it, or moved any unit there, within \(timing.claimTimeout)"
                        ))
                default:
                    break
                }
            }
            // The volumes' summary is made (10,000 entries) only when it may be written.
            if done || now - lastReport >= timing.statusInterval {
                let volumes = Self.summary(created.lazy.map(current), notMoved: notMoved)
                if volumes != reported {
                    try await status.update(job) { $0.record(volumes: volumes) }
                    reported = volumes
                }
                lastReport = now
            }
            // Every look at thousands of units makes and drops copies; what glibc keeps of
            // that goes back now and then (a 10,000-unit Backup peaked 11 MiB higher without it).
            if now - lastTrim >= .seconds(30) {
                HeapTrim.returnFreeMemory()
                lastTrim = now
            }
            if done {
                return created.map(current)
            }
            try await Task.sleep(for: timing.poll)
        }
    }

    /// Every volume of the job as its status records them (`JobStatus.record(volumes:)`): each
    /// unit's phase and progress, and the volumes not moved.
    static func summary(_ units: some Sequence<VolumeTransfer>, notMoved: [NotMoved]) -> [VolumeProgress] {
        units.map { unit in
            var progress = VolumeProgress(
                claim: unit.spec.volume, phase: VolumePhase(unit.phase), bytesDone: unit.status.bytesDone,
                bytesTotal: unit.status.bytesTotal, message: unit.status.message)
            if !unit.spec.isRestore, unit.phase == .succeeded, let stored = unit.status.result { progress.record(stored) }
            return progress
        } + notMoved.map { VolumeProgress(claim: $0.claim, phase: $0.phase, message: $0.reason) }
    }

    /// Takes a unit back from its attempt: pending again for any agent on its node, or failed
    /// once it has been taken back `maxRequeues` times.
    func requeue(_ unit: VolumeTransfer, because reason: String) async throws {
        let requeues = (unit.status.requeues ?? 0) + 1
        var status: VolumeTransferStatus
        if requeues > timing.maxRequeues {
            status = VolumeTransferStatus(phase: .failed, message: "\(reason); gave up after \(requeues - 1) requeue(s)")
            log("\(unit.label): failed (\(reason), \(requeues - 1) requeue(s))")
        } else {
            status = VolumeTransferStatus(phase: .pending, message: "requeued: \(reason)")
            log("\(unit.label): requeued (\(reason))")
        }
        status.requeues = requeues
        try await reset(unit, status)
    }

    /// Replaces a unit's status (conditional on the version read: an agent's write in between wins).
    func reset(_ unit: VolumeTransfer, _ status: VolumeTransferStatus) async throws {
        do {
            _ = try await ferry.updateStatus(unit, basis: .given) { current, _ in
                current = status
                return true
            }
        } catch ClusterError.kube(.conflict) {
            // The agent wrote first; judged again on the next round.
        }
    }
}
