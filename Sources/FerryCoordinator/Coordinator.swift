import FerryAPI
import FerryKube
import FerryMetrics
import FerryRepo
import Foundation

/// The coordinator (`ferry coordinator`): once it holds the leader lease, it creates the Backups
/// of scheduled BackupPlans, watches `Backup` and `Restore` resources and carries out each new
/// one (several at once, up to `maxConcurrentJobs`), writing progress and the outcome into its
/// status. A Backup or Restore left `InProgress` by a previous leader (its attempt is not ours)
/// is run again: capturing and restoring objects are idempotent.
public struct Coordinator: Sendable {
    public struct Options: Sendable {
        /// Watch only this namespace (nil: all namespaces).
        public var namespace: String?
        public var leaseNamespace: String
        public var identity: String
        public var leaseDuration: Duration = .seconds(15)
        /// Where repository index caches go (nil: none).
        public var cacheDirectory: String?
        /// A running VolumeTransfer whose status does not change for this long is requeued.
        public var unitLease: Duration = .seconds(60)
        /// A VolumeTransfer no agent claims for this long fails.
        public var claimTimeout: Duration = .seconds(600)
        /// A running VolumeTransfer that makes no progress for this long is requeued.
        public var unitStallTimeout: Duration = .seconds(300)
        /// A VolumeTransfer requeued more often than this fails.
        public var maxRequeues = 3
        /// The image of the pods that expose CSI snapshots to agents (nil: CSI volumes are not moved).
        public var exposerImage: String?
        /// The kubelet's root directory on nodes.
        public var kubeletRoot = "/var/lib/kubelet"
        /// Backups and Restores carried out at once.
        public var maxConcurrentJobs = 4
        /// Where outcomes are counted for `/metrics` (nil: not counted).
        public var metrics: ClusterMetrics?
        /// Called the moment leadership is lost, before the jobs in flight are cancelled; the
        /// process should exit here (as client-go's leader election does), so nothing it still
        /// runs can act beside the next leader.
        public var leadershipLost: (@Sendable () -> Void)?

        public init(namespace: String?, leaseNamespace: String, identity: String) {
            self.namespace = namespace
            self.leaseNamespace = leaseNamespace
            self.identity = identity
        }
    }

    public let client: KubeClient
    public let options: Options
    let log: @Sendable (String) -> Void

    public init(client: KubeClient, options: Options, log: @escaping @Sendable (String) -> Void) {
        self.client = client
        self.options = options
        self.log = log
    }

    /// Runs until leadership is lost (then returns, and the process should exit so that it
    /// starts again as a candidate) or the API fails for good.
    public func run() async throws {
        let election = LeaderElection(
            client: client, namespace: options.leaseNamespace, identity: options.identity,
            leaseDuration: options.leaseDuration, log: log)
        try await election.acquire()
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                try await election.hold()
                options.leadershipLost?()
            }
            group.addTask { try await work() }
            try await group.next()
            group.cancelAll()
        }
    }

    /// One unit of work: a Backup or a Restore to carry out, or one deleted while nobody ran it
    /// to clean up after.
    enum Job: Sendable {
        case backup(Backup)
        case restore(Restore)
        case cleanUp(KubeObject)
    }

    func work() async throws {
        let attempt = "\(options.identity)-\(SecureRandom.hex(4))"
        let (jobs, queue) = AsyncStream<Job>.makeStream()
        let seen = SeenSet()
        let ferry = FerryClient(client)
        let status = StatusWriter(
            client: ferry, metrics: options.metrics, events: EventRecorder(client: client, instance: options.identity, log: log), log: log)
        let exposer = options.exposerImage.map {
            SnapshotExposer(
                client: client,
                options: SnapshotExposer.Options(image: $0, kubeletRoot: options.kubeletRoot, timeout: options.claimTimeout), log: log)
        }
        let connector = TargetConnector(
            client: client, cache: options.cacheDirectory.map { IndexCache(directory: $0, keepingTables: true) },
            ferryNamespace: options.leaseNamespace, mayInitialize: true)
        let context = JobContext(
            client: client, connector: connector, status: status,
            timing: VolumeUnits.Timing(
                unitLease: options.unitLease, claimTimeout: options.claimTimeout,
                stallTimeout: options.unitStallTimeout, maxRequeues: options.maxRequeues),
            exposer: exposer,
            adminNamespace: options.leaseNamespace, log: log)
        let invalid = { @Sendable (object: KubeObject, error: ClusterError) in log("\(object.label): cannot be read: \(error)") }
        let running = RunningWork()
        let cleaner = JobCleanup(context: context)
        // A deleted job: its work is cancelled (it cleans up after itself), or, when nothing of
        // this process runs it, it is cleaned up after here.
        let deleted = { @Sendable (object: KubeObject) in
            guard let uid = object.uid, !running.cancel(uid), object.finalizers.contains(FerryLabels.jobFinalizer),
                seen.insert("cleanup/\(uid)")
            else { return }
            queue.yield(.cleanUp(object))
        }
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                try await ferry.forEachWorkItem(
                    Backup.self, namespace: options.namespace, where: { Self.needsWork($0, attempt: attempt) },
                    invalid: invalid, deleted: deleted
                ) { backup in
                    if let uid = backup.uid, seen.insert(uid) { queue.yield(.backup(backup)) }
                }
            }
            group.addTask {
                try await ferry.forEachWorkItem(
                    Restore.self, namespace: options.namespace, where: { Self.needsWork($0, attempt: attempt) },
                    invalid: invalid, deleted: deleted
                ) { restore in
                    if let uid = restore.uid, seen.insert(uid) { queue.yield(.restore(restore)) }
                }
            }
            group.addTask {
                try await Scheduler(
                    client: client, namespace: options.namespace, adminNamespace: options.leaseNamespace, status: status,
                    connector: context.connector, log: log
                ).run()
            }
            group.addTask {
                await forEachConcurrently(jobs, limit: options.maxConcurrentJobs) { job in
                    switch job {
                    case .backup(let backup):
                        log("\(backup.label): starting (attempt \(attempt))")
                        if await !running.run(
                            backup.uid ?? backup.name, { await BackupJob(context: context, backup: backup).run(attempt: attempt) })
                        {
                            await cleaner.cleanUp(backup.object)
                        }
                    case .restore(let restore):
                        log("\(restore.label): starting (attempt \(attempt))")
                        if await !running.run(
                            restore.uid ?? restore.name, { await RestoreJob(context: context, restore: restore).run(attempt: attempt) })
                        {
                            await cleaner.cleanUp(restore.object)
                        }
                    case .cleanUp(let object):
                        await cleaner.cleanUp(object)
                    }
                }
            }
            try await group.next()
            group.cancelAll()
        }
    }

    /// New (no phase, or Pending), or left in progress by another attempt.
    static func needsWork<J: JobObject>(_ job: J, attempt: String) -> Bool {
        guard job.object.deletionTimestamp == nil else { return false }
        switch job.phase {
        case .pending: return true
        case .inProgress: return job.status.attempt != attempt
        default: return false
        }
    }
}

/// What the coordinator's jobs share: the API, the repositories, status writes, timing, and the
/// exposer of CSI snapshots.
struct JobContext: Sendable {
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

    var ferry: FerryClient { status.client }

    /// How long a job may take (`spec.timeout`, default 24h).
    func timeout(_ text: String?, of label: String) throws(ClusterError) -> Duration {
        guard let text, !text.isEmpty else { return .seconds(24 * 3600) }
        guard let seconds = CronSchedule.duration(text) else {
            throw .invalidSpec(object: label, field: "spec.timeout", message: "\(text) is not a duration such as 90m, 6h or 2d")
        }
        return .seconds(seconds)
    }

    /// Carries out a job under its timeout; a job that runs out of time is stopped as a deleted
    /// one is (its units and what it exposed go).
    func carryOut<J: JobObject>(_ job: J, timeoutText: String?, attempt: String, _ perform: @escaping @Sendable () async throws -> J.Status)
        async
    {
        let timeout: Duration
        do {
            timeout = try self.timeout(timeoutText, of: job.label)
        } catch {
            await status.carryOut(job, attempt: attempt, timeout: .seconds(60), stop: {}) { throw error }
            return
        }
        let cleanup = JobCleanup(context: self)
        await status.carryOut(job, attempt: attempt, timeout: timeout, stop: { await cleanup.stopWork(job.object) }, perform)
    }

    /// One object, or nil when it does not exist.
    func find(_ resource: APIResource, namespace: String?, name: String) async throws(ClusterError) -> KubeObject? {
        do {
            return try await client.get(resource, namespace: namespace, name: name)
        } catch .notFound {
            return nil
        } catch {
            throw .kube(error)
        }
    }

    /// A built-in resource by apiVersion and kind.
    func resource(_ apiVersion: String, _ kind: String) async throws(ClusterError) -> APIResource {
        do {
            return try await client.resource(apiVersion: apiVersion, kind: kind)
        } catch {
            throw .kube(error)
        }
    }
}
