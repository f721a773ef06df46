import FerryKube
import FerryRepo
import Foundation

/// The coordinator (`ferry coordinator`): once it holds the leader lease, it creates the Backups
/// of scheduled BackupPlans, watches `Backup` and `Restore` resources and carries out each new
/// one (several at once, up to `maxConcurrentJobs`), writing progress and the outcome into its
/// status. A Backup or Restore left `InProgress` by a previous leader (its
/// attempt is not ours) is run again: capturing and restoring objects are idempotent.
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
        /// The image of the pods that expose CSI snapshots to agents (nil: CSI volumes are not moved).
        public var exposerImage: String?
        /// The kubelet's root directory on nodes.
        public var kubeletRoot = "/var/lib/kubelet"
        /// Backups and Restores carried out at once.
        public var maxConcurrentJobs = 4
        /// Where outcomes are counted for `/metrics` (nil: not counted).
        public var metrics: ClusterMetrics?

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
        let election = LeaderElection(client: client, namespace: options.leaseNamespace, identity: options.identity,
                                      leaseDuration: options.leaseDuration, log: log)
        try await election.acquire()
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await election.hold() }
            group.addTask { try await work() }
            try await group.next()
            group.cancelAll()
        }
    }

    /// One unit of work: a Backup or a Restore to carry out.
    struct Job: Sendable {
        var kind: FerryKind
        var object: KubeObject
    }

    func work() async throws {
        let attempt = "\(options.identity)-\(SecureRandom.hex(4))"
        let (jobs, queue) = AsyncStream<Job>.makeStream()
        let connector = TargetConnector(client: client, cacheDirectory: options.cacheDirectory)
        let status = StatusWriter(client: client, metrics: options.metrics)
        let timing = VolumeUnits.Timing(unitLease: options.unitLease, claimTimeout: options.claimTimeout)
        let exposer = options.exposerImage.map {
            SnapshotExposer(client: client, options: SnapshotExposer.Options(image: $0, kubeletRoot: options.kubeletRoot, timeout: options.claimTimeout), log: log)
        }
        let runner = JobRunner(client: client, connector: connector, status: status, timing: timing, exposer: exposer,
                               adminNamespace: options.leaseNamespace, log: log)
        try await withThrowingTaskGroup(of: Void.self) { group in
            let seen = SeenSet()
            for kind in [FerryKind.backup, .restore] {
                let resource = try await kind.resource(client)
                group.addTask {
                    try await client.forEachWorkItem(resource, namespace: options.namespace, where: { Self.needsWork($0, attempt: attempt) }) { object in
                        if let uid = object.uid, seen.insert(uid) { queue.yield(Job(kind: kind, object: object)) }
                    }
                }
            }
            group.addTask {
                try await Scheduler(client: client, namespace: options.namespace, adminNamespace: options.leaseNamespace, status: status,
                                    connector: connector, log: log).run()
            }
            group.addTask {
                await forEachConcurrently(jobs, limit: options.maxConcurrentJobs) { job in
                    log("\(job.object.label): starting (attempt \(attempt))")
                    switch job.kind {
                    case .backup: await runner.backup(job.object, attempt: attempt)
                    case .restore: await runner.restore(job.object, attempt: attempt)
                    default: break
                    }
                }
            }
            try await group.next()
            group.cancelAll()
        }
    }

    /// New (no phase, or Pending), or left in progress by another attempt.
    static func needsWork(_ object: KubeObject, attempt: String) -> Bool {
        guard object.deletionTimestamp == nil else { return false }
        switch object["status"]?["phase"]?.stringValue ?? "" {
        case "", "Pending": return true
        case "InProgress": return object["status"]?["attempt"]?.stringValue != attempt
        default: return false
        }
    }
}
