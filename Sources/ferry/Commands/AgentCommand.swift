import ArgumentParser
import FerryAgent
import FerryMetrics
import FerryMount
import Foundation

/// `ferry agent`: the node agent (a DaemonSet in the Helm chart).
struct AgentCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "agent",
        abstract: "Run the node agent: read the volumes of VolumeTransfer work units on this node into their repositories.",
        discussion: """
            The coordinator creates one VolumeTransfer per volume of a Backup, labelled for the node where the \
            volume's data can be read (a block device or a VM disk image at a host path). The agent claims the \
            units for its node, stores the volumes, and reports each volume's block map to the coordinator, which \
            commits the snapshot.
            """)

    @OptionGroup var process: ClusterProcessOptions

    @Option(name: .long, help: ArgumentHelp("This node's name (default: NODE_NAME).", valueName: "name"))
    var node: String?

    @Option(
        name: .long, help: ArgumentHelp("Where the host's root file system is mounted (default: / on the host itself).", valueName: "dir"))
    var hostRoot: String = ""

    @Option(name: .long, help: ArgumentHelp("Seconds between heartbeats.", valueName: "seconds"))
    var heartbeat: Int = 10

    @Option(name: .long, help: ArgumentHelp("Volume work units carried out at once on this node.", valueName: "n"))
    var maxUnits = 1

    @Option(
        name: .long, help: ArgumentHelp("Seconds a work unit may go without progress before the agent gives it up.", valueName: "seconds"))
    var unitStallTimeout = 300

    @Option(
        name: .long,
        help: ArgumentHelp(
            """
            The agent's own ServiceAccount (default: FERRY_SERVICE_ACCOUNT). \
            Its tokens authenticate the agent to CSI SnapshotMetadata services.
            """,
            valueName: "namespace/name"))
    var serviceAccount: String?

    func run() async throws {
        // Every unit's blocks pass through 1 MiB buffers: with glibc's adaptive mmap threshold
        // the freed ones stayed in its heaps, and the agent's peak RSS grew with the data stored
        // (251 MiB for 16 GiB); served by mmap they go back at once (docs/benchmarks.md).
        HeapTuning.returnLargeBuffersToTheSystem()
        try await process.withMetrics { metrics in
            try await agent(environment: ProcessInfo.processInfo.environment, metrics: metrics).run()
        }
    }

    /// The agent this command line describes, in a pod whose environment is `environment`.
    func agent(environment: [String: String], metrics: ClusterMetrics?) throws -> Agent {
        guard maxUnits >= 1 else { throw ValidationError("--max-units must be at least 1") }
        guard let node = node ?? environment["NODE_NAME"], !node.isEmpty else {
            throw ValidationError("give the node's name with --node or NODE_NAME")
        }
        var options = Agent.Options(node: node, identity: process.identity(environment), namespace: process.watchNamespace)
        options.hostRoot = hostRoot.hasSuffix("/") ? String(hostRoot.dropLast()) : hostRoot
        options.heartbeat = .seconds(max(1, heartbeat))
        options.cacheDirectory = process.cacheDirectory(environment)
        options.maxConcurrentUnits = maxUnits
        guard unitStallTimeout >= 1 else { throw ValidationError("--unit-stall-timeout must be at least 1 second") }
        options.stallTimeout = .seconds(unitStallTimeout)
        if let account = serviceAccount ?? environment["FERRY_SERVICE_ACCOUNT"], !account.isEmpty {
            let parts = account.split(separator: "/", omittingEmptySubsequences: false)
            guard parts.count == 2, !parts[0].isEmpty, !parts[1].isEmpty else {
                throw ValidationError("--service-account (or FERRY_SERVICE_ACCOUNT) must be namespace/name, not \(account)")
            }
            options.serviceAccount = (String(parts[0]), String(parts[1]))
        }
        options.ferryNamespace = environment["POD_NAMESPACE"] ?? options.serviceAccount?.namespace ?? "ferry"
        options.metrics = metrics
        return Agent(
            client: try process.kube.client(observer: metrics?.kubeRequestObserver, component: "agent"), options: options,
            log: ClusterProcessOptions.log)
    }
}
