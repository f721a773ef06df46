import FerryAPI
import FerryKube
import FerryMetrics
import FerryMover
import FerryRepo
import FerryVolume
import Foundation
import Synchronization

/// The node agent (`ferry agent`, a DaemonSet): carries out the `VolumeTransfer`s labelled for
/// its node. It claims a unit with a conditional status write that records its attempt id (so
/// two agents never both run it; `maxConcurrentUnits` at once), heartbeats while it reads,
/// stores the volume in the Target's repository (flushed, not committed: the coordinator
/// commits the snapshot when every unit of the Backup is done), and writes the volume's
/// manifest entry as the unit's result. Every status write is conditional and only under its
/// own attempt: a unit the coordinator has requeued is left to its new attempt.
public struct Agent: Sendable {
    public struct Options: Sendable {
        public var node: String
        public var identity: String
        /// Watch only this namespace (nil: all).
        public var namespace: String?
        /// Where the host's file system is mounted in the agent's container ("" when it runs on
        /// the host itself).
        public var hostRoot = ""
        public var heartbeat: Duration = .seconds(10)
        public var cacheDirectory: String?
        /// Units carried out at once on this node.
        public var maxConcurrentUnits = 1
        /// The agent's own ServiceAccount, whose tokens a CSI SnapshotMetadata service accepts.
        public var serviceAccount: (namespace: String, name: String)?
        /// Where units are counted for `/metrics` (nil: not counted).
        public var metrics: ClusterMetrics?
        /// The namespace Ferry runs in (only its Targets may use Ferry's own cloud identity).
        public var ferryNamespace = "ferry"
        /// A transfer that makes no progress for this long is given up (its read is abandoned,
        /// the coordinator requeues the unit).
        public var stallTimeout: Duration = .seconds(300)

        public init(node: String, identity: String, namespace: String?) {
            self.node = node
            self.identity = identity
            self.namespace = namespace
        }
    }

    public let client: KubeClient
    public let options: Options
    let log: @Sendable (String) -> Void
    /// Targets and their Secrets, read once every few seconds rather than once per unit.
    let recent = RecentReads()
    /// The index cache every unit opens its repository with: the table the last unit's session
    /// merged is kept in memory, so the next one fetches and merges only the index objects
    /// written since (a unit's cost does not grow with the repository).
    let indexCache: IndexCache?

    var ferry: FerryClient { FerryClient(client) }

    public init(client: KubeClient, options: Options, log: @escaping @Sendable (String) -> Void) {
        self.client = client
        self.options = options
        self.log = log
        self.indexCache = options.cacheDirectory.map { IndexCache(directory: $0, keepingTables: true) }
    }

    public func run() async throws {
        let selector = "\(FerryLabels.node)=\(FerryLabels.nodeValue(options.node))"
        let (units, queue) = AsyncStream<VolumeTransfer>.makeStream()
        log("agent on node \(options.node) watching VolumeTransfers (\(selector))")
        // A unit deleted while it runs (its Backup or Restore was deleted) is stopped at once.
        let running = RunningWork()
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                try await ferry.forEachWorkItem(
                    VolumeTransfer.self, namespace: options.namespace, labelSelector: selector, where: Self.isPending,
                    invalid: { object, error in log("\(object.label): not carried out: \(error)") },
                    deleted: { object in
                        if let uid = object.uid, running.cancel(uid) { log("\(object.label): deleted; stopping") }
                    }
                ) { queue.yield($0) }
            }
            group.addTask {
                // The same pending unit may come twice (list, then an event): the claim's
                // conditional write lets only one attempt have it.
                await forEachConcurrently(units, limit: options.maxConcurrentUnits) { unit in
                    let attempt = "\(options.identity)-\(SecureRandom.hex(4))"
                    guard let claimed = await claim(unit, attempt: attempt) else { return }
                    let uid = claimed.uid ?? claimed.name
                    _ = await running.run(uid, abandonOnCancel: true) {
                        await transfer(claimed, attempt: attempt) { running.cancel(uid) }
                    }
                }
            }
            try await group.next()
            group.cancelAll()
        }
    }

    static func isPending(_ unit: VolumeTransfer) -> Bool {
        unit.object.deletionTimestamp == nil && unit.phase == .pending
    }

    /// Takes the unit: a status write conditional on the version we saw. Nil when another
    /// agent (or the coordinator) changed it first.
    func claim(_ unit: VolumeTransfer, attempt: String) async -> VolumeTransfer? {
        do {
            let claimed = try await ferry.updateStatus(unit, basis: .given) { status, _ in
                let requeues = status.requeues
                status = VolumeTransferStatus(phase: .running)
                status.requeues = requeues
                status.attempt = attempt
                status.agent = options.identity
                status.heartbeat = Date()
                return true
            }
            return claimed?.status.attempt == attempt ? claimed : nil
        } catch ClusterError.kube(.conflict) {
            return nil
        } catch {
            log("\(unit.label): cannot claim: \(error)")
            return nil
        }
    }

    /// Carries the unit out; `giveUp` is called when it makes no progress for the stall timeout.
    func transfer(_ claimed: VolumeTransfer, attempt: String, giveUp: @escaping @Sendable () -> Void = {}) async {
        let unit = KnownVersion(claimed)
        let spec = claimed.spec
        let direction = spec.direction ?? .backup
        log("\(claimed.label): \(direction.rawValue) \(spec.source.path) (attempt \(attempt))")
        var heartbeat: Task<Void, Never>?
        defer { heartbeat?.cancel() }
        var watchdog: Task<Void, Never>?
        defer { watchdog?.cancel() }
        options.metrics?.unitsRunning(1)
        defer { options.metrics?.unitsRunning(-1) }
        do {
            try spec.validate(object: claimed.label)
            guard spec.node == options.node else {
                throw ClusterError.invalidSpec(
                    object: claimed.label, field: "spec.node", message: "is \(spec.node), this agent runs on \(options.node)")
            }
            let target = try await ferry.get(
                Target.self, namespace: claimed.namespace, name: spec.target, neededBy: claimed.label, recent: recent)
            // A backup's write session reads the index itself; a restore reads chunks through it.
            let connector = TargetConnector(
                client: client, cache: indexCache, ferryNamespace: options.ferryNamespace, mayInitialize: false,
                recent: recent)
            let repository = try await connector.open(target, loadIndex: spec.isRestore, expecting: spec.repository)
            var outcome = VolumeTransferStatus(phase: .succeeded)
            switch direction {
            case .backup:
                let format = ImageFormat(rawValue: (spec.source.format ?? .auto).rawValue) ?? .auto
                let source = try format.open(path: try HostPath(root: options.hostRoot).resolve(spec.source.path), force: spec.attached)
                defer { (source as? RawBlockSource)?.close() }
                let progress = TransferProgress(
                    total: spec.pages.map {
                        VolumeRanges.bytes(
                            of: $0, size: source.size, blockSize: repository.config.blockSize,
                            pageEntries: repository.config.blockMapPageEntries)
                    } ?? source.size)
                heartbeat = beat(unit, attempt: attempt, progress: progress)
                watchdog = watch(claimed, progress: progress, giveUp: giveUp)
                let (volume, pageList) = try await backup(spec, source: source, repository: repository, progress: progress)
                let tracking = volume.changeTracking.map { " (changes: \($0.provider)\($0.fallbackReason.map { "; \($0)" } ?? ""))" } ?? ""
                log(
                    """
                    \(claimed.label): stored \(volume.name): \(volume.stats.newBlocks) new, \
                    \(volume.stats.unchangedBlocks) unchanged blocks, read \(volume.stats.bytesRead) bytes\(tracking)
                    """
                )
                outcome.result = volume
                outcome.result?.pages = []
                outcome.pageList = pageList
                outcome.bytesDone = volume.stats.size
                outcome.bytesTotal = volume.stats.size
                outcome.firstPage = spec.pages?.lowerBound
            case .restore:
                let snapshot = try await repository.snapshot(matching: spec.snapshot ?? "")
                guard let volume = snapshot.manifest.volumes.first(where: { $0.name == spec.volume }) else {
                    throw ClusterError.invalidSpec(
                        object: claimed.label, field: "spec.volume", message: "snapshot \(snapshot.id.short) has no volume \(spec.volume)")
                }
                let progress = TransferProgress(total: volume.size)
                heartbeat = beat(unit, attempt: attempt, progress: progress)
                watchdog = watch(claimed, progress: progress, giveUp: giveUp)
                let written = try await VolumeRestore(
                    repository: repository, volume: volume, target: try HostPath(root: options.hostRoot).resolve(spec.source.path),
                    request: RestoreRequest(force: spec.attached, progress: progress)
                ).run()
                log("\(claimed.label): wrote \(volume.name) to \(spec.source.path)")
                outcome.written = .init(size: written.size, bytesWritten: written.bytesWritten)
                outcome.bytesDone = written.size
                outcome.bytesTotal = written.size
            }
            heartbeat?.cancel()
            let final = outcome
            _ = await write(unit, attempt: attempt) { status in
                let claimedBy = (status.attempt, status.agent, status.requeues)
                status = final
                (status.attempt, status.agent, status.requeues) = claimedBy
                status.heartbeat = Date()
            }
            options.metrics?.unitFinished(
                direction: direction, phase: .succeeded,
                bytes: final.result?.stats.bytesRead ?? final.written?.bytesWritten ?? 0)
        } catch {
            heartbeat?.cancel()
            if Task.isCancelled {
                // Given up (stalled) or deleted: the coordinator requeues or has dropped the
                // unit; a Failed written now would fail a volume another attempt may still store.
                log("\(claimed.label): stopped (\(error))")
                return
            }
            log("\(claimed.label): failed: \(error)")
            _ = await write(unit, attempt: attempt) { status in
                status.phase = .failed
                status.message = "\(error)"
            }
            options.metrics?.unitFinished(direction: direction, phase: .failed, bytes: 0)
        }
    }

    /// Reports progress every heartbeat interval until cancelled or the unit is no longer ours.
    func beat(_ unit: KnownVersion, attempt: String, progress: TransferProgress) -> Task<Void, Never> {
        Task {
            while !Task.isCancelled {
                try? await Task.sleep(for: options.heartbeat)
                guard !Task.isCancelled else { return }
                let done = progress.completed
                let total = progress.total
                let written = await write(unit, attempt: attempt) { status in
                    status.heartbeat = Date()
                    status.bytesDone = done
                    status.bytesTotal = total
                }
                guard written else { return }
            }
        }
    }

    /// Gives the unit up when its transfer makes no progress for the stall timeout (a read that
    /// never returns): the heartbeat would otherwise keep a hung unit alive for ever.
    func watch(_ unit: VolumeTransfer, progress: TransferProgress, giveUp: @escaping @Sendable () -> Void) -> Task<Void, Never> {
        Task {
            var last = progress.completed
            var since = ContinuousClock.now
            while !Task.isCancelled {
                try? await Task.sleep(for: min(options.heartbeat, options.stallTimeout))
                guard !Task.isCancelled else { return }
                if progress.completed != last {
                    last = progress.completed
                    since = ContinuousClock.now
                } else if ContinuousClock.now - since >= options.stallTimeout {
                    log("\(unit.label): no progress for \(options.stallTimeout); giving it up")
                    giveUp()
                    return
                }
            }
        }
    }

    /// Stores the volume in the Target's repository, compared with its latest earlier copy, and
    /// its block-map page ids as one metadata chunk.
    func backup(_ spec: VolumeTransferSpec, source: any BlockSource, repository: Repository, progress: TransferProgress) async throws -> (
        VolumeManifest, PageList
    ) {
        let parent = try await spec.snapshotName.asyncMap { try await repository.latestSnapshot(named: $0, holding: spec.volume) } ?? nil
        var request = BackupRequest(snapshotName: spec.volume, blockSize: repository.config.blockSize, parent: parent, progress: progress)
        request.volumeName = spec.volume
        request.pages = spec.pages
        request.changeTracker = await AgentChangeTracking(serviceAccount: options.serviceAccount, client: client)
            .tracker(for: spec, source: source, parent: parent?.manifest.volumes.first { $0.name == spec.volume })
        let session = try await repository.beginSession()
        do {
            let (volume, _) = try await VolumeBackup(source: source, repository: repository, request: request).store(in: session)
            let pageList = try await PageList.store(volume.pages, in: session)
            try await session.flush()
            await session.end()
            return (volume, pageList)
        } catch {
            await session.end()
            throw error
        }
    }

    /// Changes the unit's status if it is still this attempt's (re-reading on conflicts); false
    /// when the unit was requeued, taken over or deleted (then this agent stops writing to it).
    func write(_ unit: KnownVersion, attempt: String, _ change: @escaping @Sendable (inout VolumeTransferStatus) -> Void) async -> Bool {
        let label = unit.value.label
        do {
            var ours = true
            let ifOurs = { (status: inout VolumeTransferStatus, _: VolumeTransfer) -> Bool in
                guard status.attempt == attempt else {
                    ours = false
                    return false
                }
                change(&status)
                return true
            }
            let written: VolumeTransfer?
            do {
                // Conditional on the version this agent last saw, without reading it first.
                written = try await ferry.updateStatus(unit.value, basis: .given, ifOurs)
            } catch ClusterError.kube(.conflict) {
                // Someone wrote since (the coordinator requeueing it, or a write of ours
                // racing this one): judged again on the latest version.
                written = try await ferry.updateStatus(unit.value, ifOurs)
            }
            if let written { unit.update(written) }
            if !ours || written == nil { log("\(label): no longer this agent's attempt; leaving it") }
            return ours && written != nil
        } catch {
            log("\(label): status write failed: \(error)")
            return false
        }
    }
}

/// The version of a unit this agent last claimed or wrote: its next status write is
/// conditional on it, so a write costs one request, not a read and a write.
final class KnownVersion: Sendable {
    private let unit: Mutex<VolumeTransfer>

    init(_ unit: VolumeTransfer) {
        self.unit = Mutex(unit)
    }

    var value: VolumeTransfer { unit.withLock { $0 } }

    func update(_ written: VolumeTransfer) { unit.withLock { $0 = written } }
}

extension Optional {
    /// The async counterpart of `map`.
    func asyncMap<T>(_ transform: (Wrapped) async throws -> T) async rethrows -> T? {
        guard let self else { return nil }
        return try await transform(self)
    }
}
