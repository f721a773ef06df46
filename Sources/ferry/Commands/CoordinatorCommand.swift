import ArgumentParser
import FerryCoordinator
import FerryMetrics
import Foundation

/// `ferry coordinator`: the cluster's coordinator (a Deployment in the Helm chart).
struct CoordinatorCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "coordinator",
        abstract: "Run the coordinator: carry out Backup and Restore resources (ferry.dev/v1alpha1).",
        discussion: """
            Only the holder of the coordination.k8s.io Lease acts; other replicas wait. A Backup captures its \
            BackupPlan's application into the plan's Target; a Restore restores a Backup (or a Target's snapshot) \
            into its own namespace. Exits when leadership is lost, so that it starts again as a candidate.
            """)

    @OptionGroup var process: ClusterProcessOptions

    @Option(name: .long, help: ArgumentHelp("Namespace of the leader Lease (default: POD_NAMESPACE, else ferry).", valueName: "namespace"))
    var leaseNamespace: String?

    @Option(name: .long, help: ArgumentHelp("Lease duration in seconds.", valueName: "seconds"))
    var leaseDuration: Int = 15

    @Option(
        name: .long,
        help: ArgumentHelp(
            "Seconds without a heartbeat after which a volume's work unit is given to another attempt.", valueName: "seconds"))
    var unitLease: Int = 60

    @Option(name: .long, help: ArgumentHelp("Seconds a volume's work unit may wait for an agent to claim it.", valueName: "seconds"))
    var claimTimeout: Int = 600

    @Option(
        name: .long,
        help: ArgumentHelp(
            "Seconds a running work unit may go without progress before it is given to another attempt.", valueName: "seconds"))
    var unitStallTimeout: Int = 300

    @Option(name: .long, help: ArgumentHelp("Times a work unit is given to another attempt before its volume fails.", valueName: "n"))
    var maxRequeues: Int = 3

    @Option(
        name: .long,
        help: ArgumentHelp(
            "Image of the pods that expose CSI snapshots to agents (default: FERRY_IMAGE; without one CSI volumes are not moved).",
            valueName: "image"))
    var exposerImage: String?

    @Option(name: .long, help: ArgumentHelp("The kubelet's root directory on nodes.", valueName: "dir"))
    var kubeletRoot = "/var/lib/kubelet"

    @Option(name: .long, help: ArgumentHelp("Backups and Restores carried out at once.", valueName: "n"))
    var maxJobs = 4

    func validate() throws {
        guard maxJobs >= 1 else { throw ValidationError("--max-jobs must be at least 1") }
        guard unitLease >= 1, claimTimeout >= 1, unitStallTimeout >= 1 else {
            throw ValidationError("--unit-lease, --claim-timeout and --unit-stall-timeout must be at least 1 second")
        }
        guard maxRequeues >= 0 else { throw ValidationError("--max-requeues must not be negative") }
        guard leaseDuration >= 1 else { throw ValidationError("--lease-duration must be at least 1 second") }
    }

    func run() async throws {
        try await process.withMetrics { metrics in
            let coordinator = try coordinator(environment: ProcessInfo.processInfo.environment, metrics: metrics) {
                ClusterProcessOptions.log("exiting: a coordinator that is not the leader must not act")
                Foundation.exit(3)
            }
            try await coordinator.run()
        }
        throw CLIError("leadership lost; exiting so that the coordinator starts again as a candidate")
    }

    /// The coordinator this command line describes, in a pod whose environment is `environment`.
    func coordinator(
        environment: [String: String], metrics: ClusterMetrics?, leadershipLost: @escaping @Sendable () -> Void
    ) throws -> Coordinator {
        var options = Coordinator.Options(
            namespace: process.watchNamespace, leaseNamespace: leaseNamespace ?? environment["POD_NAMESPACE"] ?? "ferry",
            identity: process.identity(environment))
        options.leaseDuration = .seconds(leaseDuration)
        options.cacheDirectory = process.cacheDirectory(environment)
        options.unitLease = .seconds(unitLease)
        options.exposerImage = exposerImage ?? environment["FERRY_IMAGE"]
        options.kubeletRoot = kubeletRoot
        options.maxConcurrentJobs = maxJobs
        options.claimTimeout = .seconds(claimTimeout)
        options.unitStallTimeout = .seconds(unitStallTimeout)
        options.maxRequeues = maxRequeues
        options.leadershipLost = leadershipLost
        options.metrics = metrics
        return Coordinator(
            client: try process.kube.client(observer: metrics?.kubeRequestObserver, component: "coordinator"), options: options,
            log: ClusterProcessOptions.log)
    }
}
