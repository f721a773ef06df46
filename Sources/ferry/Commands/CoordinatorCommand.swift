import ArgumentParser
import FerryCluster
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

    @OptionGroup var kube: KubeOptions

    @Option(name: .long, help: ArgumentHelp("Watch only this namespace (default: all).", valueName: "namespace"))
    var watchNamespace: String?

    @Option(name: .long, help: ArgumentHelp("Namespace of the leader Lease (default: POD_NAMESPACE, else ferry).", valueName: "namespace"))
    var leaseNamespace: String?

    @Option(name: .long, help: ArgumentHelp("This replica's identity (default: POD_NAME, else the host name).", valueName: "name"))
    var identity: String?

    @Option(name: .long, help: ArgumentHelp("Lease duration in seconds.", valueName: "seconds"))
    var leaseDuration: Int = 15

    @Option(name: .long, help: ArgumentHelp("Index cache directory (default: FERRY_CACHE_DIR; none if unset).", valueName: "dir"))
    var cacheDir: String?

    @Option(name: .long, help: ArgumentHelp("Seconds without a heartbeat after which a volume's work unit is given to another attempt.", valueName: "seconds"))
    var unitLease: Int = 60

    @Option(name: .long, help: ArgumentHelp("Seconds a volume's work unit may wait for an agent to claim it.", valueName: "seconds"))
    var claimTimeout: Int = 600

    func validate() throws {
        guard unitLease >= 1, claimTimeout >= 1 else { throw ValidationError("--unit-lease and --claim-timeout must be at least 1 second") }
        guard leaseDuration >= 1 else { throw ValidationError("--lease-duration must be at least 1 second") }
    }

    func run() async throws {
        let environment = ProcessInfo.processInfo.environment
        var options = Coordinator.Options(
            namespace: watchNamespace, leaseNamespace: leaseNamespace ?? environment["POD_NAMESPACE"] ?? "ferry",
            identity: identity ?? environment["POD_NAME"] ?? ProcessInfo.processInfo.hostName)
        options.leaseDuration = .seconds(leaseDuration)
        options.cacheDirectory = cacheDir ?? environment["FERRY_CACHE_DIR"]
        options.unitLease = .seconds(unitLease)
        options.claimTimeout = .seconds(claimTimeout)
        let coordinator = Coordinator(client: try kube.client(), options: options) { line in
            Terminal.error("\(Date().formatted(Date.ISO8601FormatStyle())) \(line)")
        }
        try await coordinator.run()
        throw CLIError("leadership lost; exiting so that the coordinator starts again as a candidate")
    }
}
