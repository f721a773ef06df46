import ArgumentParser
import FerryAPI
import FerryKube
import Foundation

/// `ferry cluster backup|restore`: start a Backup or Restore resource and follow it.
struct ClusterCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cluster",
        abstract: "Start backups and restores on a cluster where Ferry is installed, and follow them.",
        subcommands: [ClusterBackupCommand.self, ClusterRestoreCommand.self])

    /// Creates the job and, with `wait`, prints its progress until it ends; exits 1 unless it
    /// ends Completed.
    static func start<J: JobObject>(_ job: J, client: KubeClient, wait: Bool) async throws {
        let ferry = FerryClient(client)
        let resource = try await served(J.kind, ferry: ferry)
        let created = try await ferry.create(job)
        Terminal.error("\(J.kind.rawValue.lowercased()) \(created.namespace ?? "")/\(created.name) created")
        guard wait else {
            Terminal.output(created.name)
            return
        }
        var last = ""
        for try await event in client.watch(
            resource, namespace: created.namespace, resourceVersion: created.object.resourceVersion,
            fieldSelector: "metadata.name=\(created.name)", timeoutSeconds: nil)
        {
            guard let object = event.object, object.name == created.name, let current = try? J(object) else { continue }
            let line = describe(current.status)
            if line != last, !line.isEmpty {
                Terminal.error(line)
                last = line
            }
            switch current.status.phase {
            case .completed?:
                Terminal.output((current.status as? BackupStatus)?.snapshot ?? (current.status as? RestoreStatus)?.snapshot ?? created.name)
                return
            case .partiallyFailed?, .failed?:
                for error in current.status.errors ?? [] { Terminal.error("error: \(error)") }
                for warning in current.status.warnings ?? [] { Terminal.error("warning: \(warning)") }
                throw ExitCode(1)
            default:
                continue
            }
        }
        throw CLIError("the watch of \(J.kind.rawValue) \(created.name) ended before it finished")
    }

    /// The resource of a Ferry kind, or an error saying Ferry is not installed.
    static func served(_ kind: FerryKind, ferry: FerryClient) async throws -> APIResource {
        do {
            return try await ferry.resource(kind)
        } catch .kube(.unknownResource) {
            throw CLIError("the cluster does not serve \(kind.rawValue).ferry.dev: is Ferry installed (helm install ferry charts/ferry)?")
        }
    }

    /// One line of progress: the phase and each volume's (counts by phase when the status
    /// does not list every volume).
    static func describe(_ status: some JobStatus) -> String {
        guard let phase = status.phase else { return "" }
        if (status.volumesOmitted ?? 0) > 0, let progress = status.progress {
            let phases = VolumePhase.allCases.compactMap { phase in progress[phase].map { "\($0) \(phase.rawValue)" } }
            return "\(phase.rawValue); \(progress.volumes) volumes: \(phases.joined(separator: ", "))"
        }
        let volumes = (status.volumes ?? []).map { volume -> String in
            let progress =
                if let done = volume.bytesDone, let total = volume.bytesTotal, total > 0 {
                    " \(Format.bytes(done))/\(Format.bytes(total))"
                } else {
                    ""
                }
            return "\(volume.claim) \(volume.phase.rawValue)\(progress)"
        }
        return ([phase.rawValue] + volumes).joined(separator: "; ")
    }
}

/// `ferry cluster backup PLAN`.
struct ClusterBackupCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "backup", abstract: "Create a Backup of a BackupPlan; with --wait, follow it and print the snapshot id.")

    @Argument(help: ArgumentHelp("The BackupPlan (or, with --cluster-plan, the ClusterBackupPlan).", valueName: "plan"))
    var plan: String

    @OptionGroup var kube: KubeOptions

    @Option(
        name: .customShort("n"),
        help: ArgumentHelp(
            "The plan's namespace (default: the context's); for a ClusterBackupPlan, the namespace Ferry runs in.", valueName: "namespace"))
    var namespace: String?

    @Flag(name: .long, help: "PLAN is a ClusterBackupPlan (the Backup goes into -n, Ferry's own namespace).")
    var clusterPlan = false

    @Option(name: .long, help: ArgumentHelp("The Backup's name (default: PLAN-<time>).", valueName: "name"))
    var name: String?

    @Flag(name: .long, help: "Follow the backup until it ends; exit 1 unless it completes.")
    var wait = false

    func run() async throws {
        let client = try kube.client()
        let name = self.name ?? "\(plan)-\(Int(Date().timeIntervalSince1970))"
        let backup = Backup(
            namespace: namespace ?? client.configuration.namespace, name: name,
            spec: clusterPlan ? BackupSpec(clusterPlan: plan) : BackupSpec(plan: plan))
        try await ClusterCommand.start(backup, client: client, wait: wait)
    }
}

/// `ferry cluster restore (--backup B | --target T --snapshot S)`, with the selection and
/// transforms of `ferry app restore` (`--component`, `--transform-file`, ...) in the Restore's spec.
struct ClusterRestoreCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "restore", abstract: "Create a Restore into a namespace; with --wait, follow it.")

    @OptionGroup var kube: KubeOptions

    @Option(name: .customShort("n"), help: ArgumentHelp("The namespace to restore into (default: the context's).", valueName: "namespace"))
    var namespace: String?

    @Option(name: .long, help: ArgumentHelp("A Backup in that namespace.", valueName: "backup"))
    var backup: String?

    @Option(name: .long, help: ArgumentHelp("Instead of --backup: a Target in that namespace.", valueName: "target"))
    var target: String?

    @Option(name: .long, help: ArgumentHelp("With --target: a snapshot id, prefix or latest.", valueName: "snapshot"))
    var snapshot: String?

    @Option(name: .long, help: ArgumentHelp("The Restore's name (default: restore-<time>).", valueName: "name"))
    var name: String?

    @Flag(
        name: .long,
        help:
            """
            Restore into the backed-up namespaces, cluster-scoped objects too \
            (a Restore in Ferry's own namespace only; implied for a ClusterBackupPlan's Backup).
            """
    )
    var clusterWide = false

    @OptionGroup var selection: RestoreSelectionOptions

    @Flag(name: .long, help: "Follow the restore until it ends; exit 1 unless it completes.")
    var wait = false

    func validate() throws {
        guard (backup != nil) != (target != nil), (target == nil) == (snapshot == nil) else {
            throw ValidationError("give --backup, or --target with --snapshot")
        }
    }

    func run() async throws {
        let client = try kube.client()
        var spec = backup.map { RestoreSpec(backup: $0) } ?? RestoreSpec(target: target, snapshot: snapshot)
        if clusterWide { spec.clusterWide = true }
        spec.include = try selection.include()
        spec.exclude = try selection.exclude()
        spec.transforms = try selection.transforms()
        let restore = Restore(
            namespace: namespace ?? client.configuration.namespace, name: name ?? "restore-\(Int(Date().timeIntervalSince1970))",
            spec: spec)
        try await ClusterCommand.start(restore, client: client, wait: wait)
    }
}
