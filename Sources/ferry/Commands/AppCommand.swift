import ArgumentParser
import FerryApps
import FerryKube
import FerryRepo
import FerryResources
import Foundation

/// `ferry app backup|restore`: captures an application's Kubernetes objects into a snapshot and
/// restores them into a cluster in dependency order.
struct AppCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "app",
        abstract: "Back up and restore a Kubernetes application's resources.",
        subcommands: [AppBackupCommand.self, AppRestoreCommand.self])
}

/// `ferry app backup`: discovers an application (as `ferry plan` shows it) and stores its objects.
struct AppBackupCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "backup",
        abstract: "Capture an application's Kubernetes objects into a snapshot.",
        discussion: """
            Exactly one of --helm-release, --operator, --selector, --namespace or --vm names the application, as for \
            `ferry plan`. Every object is stored encrypted (Secrets included) as it would be restored: without uid, \
            resourceVersion, status and other fields the cluster sets. The data of the application's volumes is not \
            read by this command (the node agent moves it); they are listed in the output. Prints the snapshot id.
            """)

    @OptionGroup var application: ApplicationOptions

    @OptionGroup var repository: RepositoryOptions

    @Option(name: .long, help: "Snapshot name (default: from the application, e.g. helm:web@shop).")
    var name: String?

    @Option(name: .long, parsing: .singleValue, help: ArgumentHelp("A key=value tag to record (repeatable).", valueName: "key=value"))
    var tag: [String] = []

    @Flag(name: .long, help: "Print a JSON object instead of the snapshot id.")
    var json = false

    func run() async throws {
        let tags = try Tags.parse(tag)
        let repo = try await repository.open()
        let (result, selector, scope) = try await application.discover()
        for issue in result.issues { Terminal.error("warning: \(issue)") }
        guard !result.components.isEmpty else {
            throw CLIError("\(selector) has no components in \(scope); nothing was stored")
        }
        let name = try self.name ?? application.snapshotName(scope: scope)
        let session = try await repo.beginSession()
        let snapshot: ChunkID
        let stored: Int64
        let resources: ResourceManifest
        do {
            resources = try await ResourceCapture.store(result, in: session)
            let manifest = SnapshotManifest(
                time: Date(), name: name, hostname: ProcessInfo.processInfo.hostName, parent: nil, session: session.id,
                volumes: [], resources: resources, tags: tags)
            (snapshot, stored) = try await session.commit(manifest)
        } catch {
            await session.end()
            throw error
        }
        let claims = result.volumes.map(\.claim.description)
        let components = Set(ComponentMembership.of(result).values.joined()).map(\.notation).sorted()
        if json {
            try Terminal.json(
                AppBackupReport(
                    snapshot: snapshot.hex, name: name, application: resources.application, scope: resources.scope,
                    resources: resources.count, bytesStored: stored, components: components, volumesNotRead: claims,
                    issues: result.issues.map(\.description)))
        } else {
            Terminal.error(
                """
                snapshot \(snapshot.short) of \(name): \(resources.count) objects of \(selector) in \(scope); \
                stored \(Format.bytes(stored))
                """
            )
            if !components.isEmpty { Terminal.error("components (to restore one: --component): \(components.joined(separator: ", "))") }
            if !claims.isEmpty {
                Terminal.error(
                    "note: the data of \(claims.count) volume(s) is not read by `ferry app backup`: \(claims.joined(separator: ", "))")
            }
            Terminal.output(snapshot.hex)
        }
    }
}

/// The JSON object `ferry app backup --json` prints.
struct AppBackupReport: Encodable {
    var snapshot: String
    var name: String
    var application: String
    var scope: String
    var resources: Int
    var bytesStored: Int64
    /// The components a restore can name (`vm:db@vms`, `helm:web@shop`, `claim:data@shop`).
    var components: [String]
    /// Claims whose data this command does not move.
    var volumesNotRead: [String]
    /// Discovery problems (RBAC denials, missing references): the capture may be incomplete.
    var issues: [String]
}

/// `ferry app restore SNAPSHOT`: creates a snapshot's captured objects in a cluster.
struct AppRestoreCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "restore",
        abstract: "Restore a snapshot's Kubernetes objects into a cluster, in dependency order.",
        discussion: """
            Order: CustomResourceDefinitions (waited for until served), namespaces, the operator and what it needs \
            (waited for until ready), admission webhooks, service accounts and RBAC, Secrets and ConfigMaps \
            (Helm release records included, so helm keeps managing the release), storage, Services, custom \
            resources, workloads, VirtualMachines. Owner references are pointed at the restored owners. Objects \
            that already exist are left alone unless --existing update. Exits 1 if any object failed; running \
            the restore again creates what is still missing.

            --component, --include-kind and --selector restore part of the snapshot (every one given must \
            hold: --component vm:db --include-kind Secret restores the Secrets of VirtualMachine db); \
            --exclude-component and --exclude-kind leave objects out. --transform-file and \
            --storage-class-mapping change objects before they are created; a patch that does not apply \
            stops the restore before anything is created.
            """)

    @Argument(help: ArgumentHelp("Snapshot id, a unique prefix of one, or 'latest'.", valueName: "snapshot"))
    var snapshot: String

    @OptionGroup var kube: KubeOptions

    @OptionGroup var repository: RepositoryOptions

    @OptionGroup var selection: RestoreSelectionOptions

    @Option(name: .long, parsing: .singleValue, help: ArgumentHelp("Restore namespace OLD into NEW (repeatable).", valueName: "old=new"))
    var namespaceMapping: [String] = []

    @Option(
        name: .long,
        help: ArgumentHelp("What to do with objects that exist: skip (default) or update (server-side apply).", valueName: "policy"))
    var existing: String = ExistingResourcePolicy.skip.rawValue

    @Option(
        name: .long, help: ArgumentHelp("Seconds to wait for CRDs and the operator to be ready (0: do not wait).", valueName: "seconds"))
    var waitTimeout: Int = 300

    @Flag(name: .long, help: "Print a JSON object of what was done.")
    var json = false

    func validate() throws {
        guard ExistingResourcePolicy(rawValue: existing) != nil else {
            throw ValidationError("--existing must be skip or update, not \(existing)")
        }
        guard waitTimeout >= 0 else { throw ValidationError("--wait-timeout must not be negative") }
        _ = try mapping()
    }

    func mapping() throws -> [String: String] {
        var mapping: [String: String] = [:]
        for item in namespaceMapping {
            let parts = item.split(separator: "=", omittingEmptySubsequences: false).map(String.init)
            guard parts.count == 2, !parts[0].isEmpty, !parts[1].isEmpty else {
                throw ValidationError("--namespace-mapping takes old=new, got \(item)")
            }
            guard mapping.updateValue(parts[1], forKey: parts[0]) == nil else {
                throw ValidationError("--namespace-mapping maps \(parts[0]) twice")
            }
        }
        return mapping
    }

    func run() async throws {
        let repo = try await repository.open()
        let snapshot = try await repo.snapshot(matching: self.snapshot)
        guard let resources = snapshot.manifest.resources else {
            throw CLIError("snapshot \(snapshot.id.short) holds no Kubernetes objects (it is a volume backup; use `ferry restore`)")
        }
        var options = ResourceRestore.Options()
        options.namespaceMapping = try mapping()
        options.existing = ExistingResourcePolicy(rawValue: existing)!
        options.waitTimeout = .seconds(waitTimeout)
        options.include = try selection.include()
        options.exclude = try selection.exclude()
        options.transforms = try selection.transforms()
        let restore = ResourceRestore(client: try kube.client(), repository: repo, resources: resources, options: options)
        let quiet = json
        let report = try await restore.run { line in if !quiet { Terminal.error(line) } }
        if json {
            try Terminal.json(AppRestoreReport(snapshot: snapshot.id.hex, report: report))
        } else {
            for object in report.objects where object.action == .failed {
                Terminal.error("failed: \(object.reference): \(object.message ?? "")")
            }
            if !report.excluded.isEmpty { Terminal.error("left out \(report.excluded.count) object(s) the selection does not name") }
            Terminal.error(
                """
                restored \(resources.count - report.excluded.count) objects of snapshot \(snapshot.id.short): \
                \(report.count(.created)) created, \(report.count(.existing)) already there, \
                \(report.count(.updated)) updated, \(report.count(.failed)) failed
                """)
        }
        if report.count(.failed) > 0 { throw ExitCode(1) }
    }
}

/// The JSON object `ferry app restore --json` prints.
struct AppRestoreReport: Encodable {
    struct Object: Encodable {
        var group: String
        var kind: String
        var namespace: String?
        var name: String
        var phase: String
        var action: String
        var message: String?
    }

    struct Wait: Encodable {
        var phase: String
        var seconds: Double
    }

    var snapshot: String
    var created: Int
    var existing: Int
    var updated: Int
    var failed: Int
    var skipped: Int
    /// Captured objects the selection left out.
    var excluded: Int
    var objects: [Object]
    var waits: [Wait]

    init(snapshot: String, report: ResourceRestoreReport) {
        self.snapshot = snapshot
        created = report.count(.created)
        existing = report.count(.existing)
        updated = report.count(.updated)
        failed = report.count(.failed)
        skipped = report.count(.skipped)
        excluded = report.excluded.count
        objects = report.objects.map {
            Object(
                group: $0.reference.group, kind: $0.reference.kind, namespace: $0.reference.namespace, name: $0.reference.name,
                phase: $0.phase.identifier, action: $0.action.rawValue, message: $0.message)
        }
        waits = report.waits.map { Wait(phase: $0.phase.identifier, seconds: $0.seconds) }
    }
}
