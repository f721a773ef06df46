import FerryKube
import FerryKubeTestServer
import FerryKubeTestSupport
import FerryTestSupport
import Foundation
import Testing

/// `ferry coordinator` run as the real binary against the test API server with the chart's
/// CustomResourceDefinitions installed: Backup and Restore resources carried out end to end.
@Suite(.serialized, .timeLimit(.minutes(10))) struct CoordinatorTests {
    /// An application's namespace, enforcing the `restricted` Pod Security Standard as a hardened
    /// cluster would: Ferry's pods there (pause pods) must pass it.
    static func applicationNamespace(_ name: String) -> String {
        "apiVersion: v1\nkind: Namespace\nmetadata: {name: \(name), labels: {pod-security.kubernetes.io/enforce: restricted}}"
    }

    static let chartCRDs = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()
        .appendingPathComponent("charts/ferry/crds")

    /// A cluster with Ferry's CRDs, a repository directory and the Secret and Target for it, and
    /// the chart installed by the real `helm install`: its ServiceAccounts and RBAC, and a
    /// kubeconfig for each of the coordinator and the agent, so that Ferry's processes run as the
    /// chart installs them (the installed Deployment's and DaemonSet's command lines), under RBAC
    /// as kube-apiserver enforces it.
    struct Setup {
        let cluster: KubeTestCluster
        let repository: String
        /// The coordinator's and the agents' kubeconfigs: tokens of the chart's ServiceAccounts.
        let coordinatorKubeconfig: String
        let agentKubeconfig: String
        /// The command lines and environments of the chart's Deployment and DaemonSet.
        let coordinatorCommand: ChartCommand
        let agentCommand: ChartCommand

        /// A missing helm skips the test outside CI (the chart's identities come from it).
        static func make(_ cluster: KubeTestCluster, rbacRestore: Bool = true) async throws -> Setup {
            try await cluster.server.load(directory: CoordinatorTests.chartCRDs)
            try await cluster.server.load(yaml: "apiVersion: v1\nkind: Namespace\nmetadata: {name: ferry}")
            // The real helm installs the chart (its CRDs are there already, as after an upgrade).
            _ = try await cluster.helm([
                "install", "ferry", ChartTests.chart, "-n", "ferry", "--set", "rbac.restore=\(rbacRestore)",
            ])
            var rendered: [JSONValue] = []
            for (apiVersion, kind) in [("apps/v1", "Deployment"), ("apps/v1", "DaemonSet")] {
                rendered += await cluster.server.objects(apiVersion: apiVersion, kind: kind, namespace: "ferry").map(\.json)
            }
            let setup = Setup(
                cluster: cluster, repository: "\(cluster.directory)/repository",
                coordinatorKubeconfig: "\(cluster.directory)/coordinator.kubeconfig",
                agentKubeconfig: "\(cluster.directory)/agent.kubeconfig",
                coordinatorCommand: try ChartCommand(rendered: rendered, kind: "Deployment", subcommand: "coordinator"),
                agentCommand: try ChartCommand(rendered: rendered, kind: "DaemonSet", subcommand: "agent"))
            try FileManager.default.createDirectory(atPath: setup.repository, withIntermediateDirectories: true)
            for (account, path) in [("ferry-coordinator", setup.coordinatorKubeconfig), ("ferry-agent", setup.agentKubeconfig)] {
                try await cluster.server.kubeconfig(serviceAccount: account, namespace: "ferry").write(
                    toFile: path, atomically: true, encoding: .utf8)
            }
            return setup
        }

        /// The password Secret and a Target in `namespace` (which creates its repository).
        func target(in namespace: String, name: String = "local") async throws {
            try await cluster.server.load(
                yaml: """
                    apiVersion: v1
                    kind: Secret
                    metadata: {name: ferry-repository, namespace: \(namespace)}
                    data: {password: \(Data("coordinator-test-password\n".utf8).base64EncodedString())}
                    ---
                    apiVersion: ferry.dev/v1alpha1
                    kind: Target
                    metadata: {name: \(name), namespace: \(namespace)}
                    spec:
                      path: \(repository)
                      encryptionSecret: {name: ferry-repository}
                      initialize: true
                    """)
        }

        /// `ferry coordinator` as the chart runs it, with this cluster's kubeconfig; metrics only
        /// where a test asks (on loopback).
        func coordinator(identity: String, leaseDuration: Int = 30, _ extra: [String] = [], environment: [String: String] = [:]) throws
            -> ChildProcess
        {
            let (arguments, fields) = coordinatorLaunch(identity: identity, leaseDuration: leaseDuration, extra)
            return try coordinatorCommand.process(fields: fields, overrides: environment).start(arguments)
        }

        /// The same coordinator run inside the test process.
        func coordinatorInProcess(identity: String, leaseDuration: Int = 30, _ extra: [String] = []) throws -> InProcessFerry {
            let (arguments, fields) = coordinatorLaunch(identity: identity, leaseDuration: leaseDuration, extra)
            return try InProcessFerry(coordinator: arguments, environment: coordinatorCommand.podEnvironment(fields: fields))
        }

        private func coordinatorLaunch(identity: String, leaseDuration: Int, _ extra: [String]) -> (
            arguments: [String], fields: [String: String]
        ) {
            let arguments = coordinatorCommand.commandLine(
                [
                    "--kubeconfig", coordinatorKubeconfig, "--lease-namespace", "ferry", "--identity", identity, "--lease-duration",
                    String(leaseDuration),
                ] + extra,
                dropping: ["--metrics-address"])
            return (arguments, ["metadata.name": identity, "metadata.namespace": "ferry"])
        }

        /// `ferry agent` as the chart's DaemonSet runs it on `node`: its paths are the test
        /// machine's own (no host root unless the test gives one), its cache in the cluster's
        /// directory, metrics only where a test asks.
        func agent(
            identity: String, node: String = "node-1", _ extra: [String] = [], environment: [String: String] = [:], prefix: [String] = []
        ) throws
            -> ChildProcess
        {
            let (arguments, fields, overrides) = agentLaunch(identity: identity, node: node, extra, environment: environment)
            return try agentCommand.process(fields: fields, overrides: overrides).start(arguments, prefix: prefix)
        }

        /// The same agent run inside the test process.
        func agentInProcess(identity: String, node: String = "node-1", _ extra: [String] = []) throws -> InProcessFerry {
            let (arguments, fields, overrides) = agentLaunch(identity: identity, node: node, extra, environment: [:])
            return try InProcessFerry(agent: arguments, environment: agentCommand.podEnvironment(fields: fields, overrides: overrides))
        }

        private func agentLaunch(identity: String, node: String, _ extra: [String], environment: [String: String])
            -> (arguments: [String], fields: [String: String], overrides: [String: String])
        {
            let arguments = agentCommand.commandLine(
                ["--kubeconfig", agentKubeconfig, "--node", node, "--identity", identity, "--heartbeat", "1"] + extra,
                dropping: ["--metrics-address", "--host-root"])
            let overrides = ["FERRY_CACHE_DIR": "\(cluster.directory)/cache-\(identity)"].merging(environment) { $1 }
            return (arguments, ["spec.nodeName": node, "metadata.name": identity, "metadata.namespace": "ferry"], overrides)
        }

        /// Creates a Backup of `plan` and waits until it ends.
        func backup(_ name: String, plan: String, namespace: String) async throws -> KubeObject {
            try await cluster.server.load(
                yaml: """
                    apiVersion: ferry.dev/v1alpha1
                    kind: Backup
                    metadata: {name: \(name), namespace: \(namespace)}
                    spec: {plan: \(plan)}
                    """)
            return try await finished("Backup", namespace: namespace, name: name)
        }

        /// Waits (on a watch, not a clock) until a Backup or Restore reaches a final phase.
        func finished(_ kind: String, namespace: String, name: String) async throws -> KubeObject {
            let resource = try await cluster.client.resource(apiVersion: "ferry.dev/v1alpha1", kind: kind)
            for try await event in cluster.client.watch(resource, namespace: namespace, resourceVersion: nil) {
                guard let object = event.object, object.name == name else { continue }
                if ["Completed", "PartiallyFailed", "Failed"].contains(object["status"]?["phase"]?.stringValue ?? "") { return object }
            }
            throw WatchEnded()
        }

        /// Waits until the object is gone: a list, then a watch from the list's version (an
        /// object deleted before the watch began is not waited for).
        func gone(_ kind: String, namespace: String, name: String) async throws {
            let resource = try await cluster.client.resource(apiVersion: "ferry.dev/v1alpha1", kind: kind)
            let list = try await cluster.client.list(resource, namespace: namespace)
            guard list.items.contains(where: { $0.name == name }) else { return }
            for try await event in cluster.client.watch(resource, namespace: namespace, resourceVersion: list.resourceVersion) {
                if case .deleted(let object) = event, object.name == name { return }
            }
            throw WatchEnded()
        }

        /// Waits until a final status's finalizer has been removed too (a separate write: the
        /// status subresource cannot change metadata).
        func released(_ kind: String, namespace: String, name: String) async throws -> KubeObject {
            let resource = try await cluster.client.resource(apiVersion: "ferry.dev/v1alpha1", kind: kind)
            for try await event in cluster.client.watch(resource, namespace: namespace, resourceVersion: nil) {
                guard let object = event.object, object.name == name else { continue }
                if object.finalizers.isEmpty { return object }
            }
            throw WatchEnded()
        }

        struct WatchEnded: Error {}
    }

    @Test(arguments: Launch.allCases) func backupAndRestoreResourcesOfAHelmApplication(_ launch: Launch) async throws {
        try await withKubeTestCluster { cluster in
            let setup = try await Setup.make(cluster)
            try await cluster.installHello(in: "web")
            try await setup.target(in: "web")
            try await cluster.server.load(
                yaml: """
                    apiVersion: ferry.dev/v1alpha1
                    kind: BackupPlan
                    metadata: {name: hello, namespace: web}
                    spec:
                      target: local
                      components: {helmReleases: [hello]}
                      retention: {keepLast: 1}
                    ---
                    apiVersion: ferry.dev/v1alpha1
                    kind: Backup
                    metadata: {name: hello-1, namespace: web}
                    spec: {plan: hello}
                    """)
            let coordinator = try launch.coordinator(setup, identity: "alpha")
            defer { coordinator.end() }

            let backup = try await setup.finished("Backup", namespace: "web", name: "hello-1")
            #expect(backup["status"]?["phase"] == "Completed", "\(backup.json.serializedString())")
            #expect(backup["status"]?["resources"] == 4)
            #expect(backup["status"]?["attempt"]?.stringValue?.hasPrefix("alpha-") == true)
            let snapshot = try #require(backup["status"]?["snapshot"]?.stringValue)
            let plan = try #require(
                await cluster.server.object(apiVersion: "ferry.dev/v1alpha1", kind: "BackupPlan", namespace: "web", name: "hello"))
            #expect(plan["status"]?["lastBackup"] == "hello-1")
            // Its start and outcome are Events, which the real kubectl describe shows.
            let kubectl = try ExternalTool.kubectl.requiredPath()
            let (described, output) = try await ExternalTool.kubectl.run(
                ["describe", "backup", "hello-1", "-n", "web"], environment: ["KUBECONFIG": "\(cluster.directory)/kubeconfig"],
                path: kubectl)
            #expect(described == 0, "\(output)")
            let events = output.components(separatedBy: "Events:").last ?? ""
            #expect(events.contains("Normal  Started") && events.contains("Normal  Completed"), "\(output)")

            // The repository the Target names was created and holds the snapshot.
            let ferry = FerryProcess(password: "coordinator-test-password")
            let listing = try JSONValue(parsing: try await ferry.run(["snapshots", "--repo", setup.repository, "--json"]).stdout)
            #expect(listing[0]?["id"]?.stringValue == snapshot && listing[0]?["name"] == "plan:web/hello")
            #expect(listing[0]?["tags"]?["backup"] == "hello-1")

            // A second backup: retention keeps only the newest snapshot of the plan.
            let second = try await setup.backup("hello-2", plan: "hello", namespace: "web")
            #expect(second["status"]?["phase"] == "Completed")
            let after = try JSONValue(parsing: try await ferry.run(["snapshots", "--repo", setup.repository, "--json"]).stdout)
            #expect(after.arrayValue?.count == 1 && after[0]?["tags"]?["backup"] == "hello-2")

            // Lost workload, restored from the Backup in its own namespace.
            await cluster.server.delete(apiVersion: "apps/v1", kind: "Deployment", namespace: "web", name: "hello-hello-world")
            try await cluster.server.load(
                yaml: "apiVersion: ferry.dev/v1alpha1\nkind: Restore\nmetadata: {name: again, namespace: web}\nspec: {backup: hello-2}")
            let restore = try await setup.finished("Restore", namespace: "web", name: "again")
            #expect(
                restore["status"]?["phase"] == "Completed" && restore["status"]?["created"] == 1 && restore["status"]?["existing"] == 3,
                "\(restore.json.serializedString())")
            #expect(
                await cluster.server.object(apiVersion: "apps/v1", kind: "Deployment", namespace: "web", name: "hello-hello-world") != nil)

            // Another namespace restores a snapshot through its own Target: everything lands there.
            try await cluster.server.load(yaml: Self.applicationNamespace("staging"))
            try await setup.target(in: "staging")
            try await cluster.server.load(
                yaml: """
                    apiVersion: ferry.dev/v1alpha1
                    kind: Restore
                    metadata: {name: copy, namespace: staging}
                    spec: {target: local, snapshot: latest}
                    """)
            let copy = try await setup.finished("Restore", namespace: "staging", name: "copy")
            #expect(copy["status"]?["phase"] == "Completed" && copy["status"]?["created"] == 4, "\(copy.json.serializedString())")
            let releases = try JSONValue(parsing: try await cluster.helm(["list", "-n", "staging", "-o", "json"]))
            #expect(releases[0]?["name"] == "hello" && releases[0]?["namespace"] == "staging", "\(releases)")
        }
    }

    @Test func aNamespacedRestoreSkipsClusterScopedObjects() async throws {
        try await withKubeTestCluster { cluster in
            let setup = try await Setup.make(cluster)
            try await cluster.loadMemcachedOperator(in: "system")
            try await setup.target(in: "system")
            try await cluster.server.load(
                yaml: """
                    apiVersion: ferry.dev/v1alpha1
                    kind: BackupPlan
                    metadata: {name: operator, namespace: system}
                    spec:
                      target: local
                      components: {operators: [{deployment: controller-manager}]}
                    ---
                    apiVersion: ferry.dev/v1alpha1
                    kind: Backup
                    metadata: {name: operator-1, namespace: system}
                    spec: {plan: operator}
                    """)
            let coordinator = try setup.coordinator(identity: "alpha")
            defer { coordinator.kill() }
            let backup = try await setup.finished("Backup", namespace: "system", name: "operator-1")
            #expect(backup["status"]?["phase"] == "Completed", "\(backup.json.serializedString())")

            try await cluster.server.load(yaml: Self.applicationNamespace("other"))
            try await setup.target(in: "other")
            try await cluster.server.load(
                yaml: """
                    apiVersion: ferry.dev/v1alpha1
                    kind: Restore
                    metadata: {name: copy, namespace: other}
                    spec: {target: local, snapshot: latest, waitTimeoutSeconds: 0}
                    """)
            let restore = try await setup.finished("Restore", namespace: "other", name: "copy")
            #expect(restore["status"]?["phase"] == "Completed", "\(restore.json.serializedString())")
            let skipped = (restore["status"]?["skipped"]?.arrayValue ?? []).compactMap(\.stringValue)
            #expect(skipped.contains("ClusterRoleBinding.rbac.authorization.k8s.io manager-rolebinding"), "\(skipped)")
            #expect(skipped.contains("CustomResourceDefinition.apiextensions.k8s.io memcacheds.cache.example.com"), "\(skipped)")
            #expect(
                await cluster.server.object(apiVersion: "apps/v1", kind: "Deployment", namespace: "other", name: "controller-manager")
                    != nil)
            let binding = try #require(
                await cluster.server.object(
                    apiVersion: "rbac.authorization.k8s.io/v1", kind: "RoleBinding", namespace: "other", name: "leader-election-rolebinding"
                ))
            #expect(binding["subjects"]?[0]?["namespace"] == "other")
        }
    }

    @Test func mistakesEndInTheStatusWithTheReason() async throws {
        try await withKubeTestCluster { cluster in
            let setup = try await Setup.make(cluster)
            try await cluster.server.load(
                yaml: """
                    apiVersion: v1
                    kind: Namespace
                    metadata: {name: app, labels: {pod-security.kubernetes.io/enforce: restricted}}
                    ---
                    apiVersion: ferry.dev/v1alpha1
                    kind: Backup
                    metadata: {name: no-plan, namespace: app}
                    spec: {plan: missing}
                    ---
                    apiVersion: ferry.dev/v1alpha1
                    kind: BackupPlan
                    metadata: {name: no-secret, namespace: app}
                    spec: {target: local, components: {helmReleases: [x]}}
                    ---
                    apiVersion: ferry.dev/v1alpha1
                    kind: Target
                    metadata: {name: local, namespace: app}
                    spec: {path: \(setup.repository), encryptionSecret: {name: absent}}
                    ---
                    apiVersion: ferry.dev/v1alpha1
                    kind: Backup
                    metadata: {name: secret-missing, namespace: app}
                    spec: {plan: no-secret}
                    ---
                    apiVersion: ferry.dev/v1alpha1
                    kind: Restore
                    metadata: {name: nothing, namespace: app}
                    spec: {}
                    """)
            let coordinator = try setup.coordinator(identity: "alpha")
            defer { coordinator.kill() }
            let noPlan = try await setup.finished("Backup", namespace: "app", name: "no-plan")
            #expect(noPlan["status"]?["phase"] == "Failed")
            #expect(noPlan["status"]?["errors"] == ["BackupPlan app/missing (needed by Backup app/no-plan) does not exist"])
            let noSecret = try await setup.finished("Backup", namespace: "app", name: "secret-missing")
            #expect(noSecret["status"]?["errors"] == ["Secret app/absent (needed by a Target) does not exist"])
            let nothing = try await setup.finished("Restore", namespace: "app", name: "nothing")
            #expect(nothing["status"]?["errors"] == ["Restore app/nothing: spec: set backup, or target and snapshot"])
        }
    }

    /// `ferry cluster backup/restore --wait` create the resources and follow them to the end.
    @Test func clusterCommandsStartAndFollow() async throws {
        try await withKubeTestCluster { cluster in
            let kubeconfig = ["--kubeconfig", "\(cluster.directory)/kubeconfig"]
            let ferry = FerryProcess(password: nil)
            let missing = try await ferry.run(["cluster", "backup", "hello", "-n", "web"] + kubeconfig)
            #expect(missing.status == 1 && missing.stderr.contains("does not serve Backup.ferry.dev: is Ferry installed"), "\(missing)")

            let setup = try await Setup.make(cluster)
            try await cluster.installHello(in: "web")
            try await setup.target(in: "web")
            try await cluster.server.load(
                yaml: """
                    apiVersion: ferry.dev/v1alpha1
                    kind: BackupPlan
                    metadata: {name: hello, namespace: web}
                    spec: {target: local, components: {helmReleases: [hello]}}
                    """)
            let coordinator = try setup.coordinator(identity: "alpha")
            defer { coordinator.kill() }
            let backup = try await ferry.run(["cluster", "backup", "hello", "-n", "web", "--name", "manual", "--wait"] + kubeconfig)
            #expect(
                backup.succeeded && backup.stderr.contains("backup web/manual created") && backup.stderr.contains("Completed"), "\(backup)")
            let status = try #require(
                await cluster.server.object(apiVersion: "ferry.dev/v1alpha1", kind: "Backup", namespace: "web", name: "manual"))
            #expect(backup.stdout == status["status"]?["snapshot"]?.stringValue)

            let restore = try await ferry.run(["cluster", "restore", "--backup", "manual", "-n", "web", "--wait"] + kubeconfig)
            #expect(restore.succeeded && restore.stderr.contains("Completed"), "\(restore)")
            let failing = try await ferry.run(["cluster", "backup", "absent", "-n", "web", "--wait"] + kubeconfig)
            #expect(failing.status == 1 && failing.stderr.contains("error: BackupPlan web/absent"), "\(failing)")
        }
    }

    /// A scheduled plan gets its Backups from the coordinator; a bad schedule is reported.
    /// Also as a backup-only install (`rbac.restore=false`), whose coordinator must still create
    /// the scheduled Backups.
    @Test(arguments: [true, false]) func scheduledPlansGetBackups(rbacRestore: Bool) async throws {
        try await withKubeTestCluster { cluster in
            let setup = try await Setup.make(cluster, rbacRestore: rbacRestore)
            try await cluster.installHello(in: "web")
            try await setup.target(in: "web")
            try await cluster.server.load(
                yaml: """
                    apiVersion: ferry.dev/v1alpha1
                    kind: BackupPlan
                    metadata: {name: hello, namespace: web}
                    spec: {target: local, schedule: "@every 2s", components: {helmReleases: [hello]}}
                    ---
                    apiVersion: ferry.dev/v1alpha1
                    kind: BackupPlan
                    metadata: {name: typo, namespace: web}
                    spec: {target: local, schedule: "0 25 * * *", components: {helmReleases: [hello]}}
                    """)
            let coordinator = try setup.coordinator(identity: "alpha")
            defer { coordinator.kill() }
            let backups = try await cluster.client.resource(apiVersion: "ferry.dev/v1alpha1", kind: "Backup")
            var completed: KubeObject?
            for try await event in cluster.client.watch(
                backups, namespace: "web", resourceVersion: nil, labelSelector: "ferry.dev/plan=hello")
            {
                if let object = event.object, object["status"]?["phase"] == "Completed" {
                    completed = object
                    break
                }
            }
            let backup = try #require(completed)
            #expect(
                backup.name.hasPrefix("hello-2") && backup.labels["ferry.dev/scheduled"] == "true" && backup["spec"]?["plan"] == "hello")
            let plan = try #require(
                await cluster.server.object(apiVersion: "ferry.dev/v1alpha1", kind: "BackupPlan", namespace: "web", name: "hello"))
            #expect(plan["status"]?["lastScheduleTime"] != nil)
            let typo = try #require(
                await cluster.server.object(apiVersion: "ferry.dev/v1alpha1", kind: "BackupPlan", namespace: "web", name: "typo"))
            #expect(
                typo["status"]?["scheduleError"]?.stringValue?.contains("invalid hour field \"25\"") == true,
                "\(typo.json.serializedString())")
        }
    }

    /// A Target with a prune schedule is pruned by the coordinator: a forgotten snapshot's data goes.
    @Test func targetsArePrunedOnSchedule() async throws {
        try await withKubeTestCluster { cluster in
            let setup = try await Setup.make(cluster)
            try await cluster.server.load(yaml: Self.applicationNamespace("app"))
            let ferry = FerryProcess(password: "coordinator-test-password")
            #expect(try await ferry.run(["repo", "init", "--repo", setup.repository]).succeeded)
            let image = "\(cluster.directory)/garbage.img"
            var random = DeterministicBytes(seed: 77)
            try Data(random.bytes(3 << 20)).write(to: URL(fileURLWithPath: image))
            let snapshot = try await ferry.run(["backup", image, "--repo", setup.repository]).stdout
            #expect(try await ferry.run(["forget", snapshot, "--repo", setup.repository]).succeeded)

            try await setup.target(in: "app")
            let targets = try await cluster.client.resource(apiVersion: "ferry.dev/v1alpha1", kind: "Target")
            var target = try await cluster.client.get(targets, namespace: "app", name: "local")
            target.json.setValue(["schedule": "@every 1s", "maxUnusedPercent": 0], at: ["spec", "prune"])
            _ = try await cluster.client.update(targets, target)
            let coordinator = try setup.coordinator(identity: "alpha")
            defer { coordinator.kill() }
            var pruned: KubeObject?
            for try await event in cluster.client.watch(targets, namespace: "app", resourceVersion: nil) {
                if let object = event.object, object["status"]?["lastPrune"] != nil || object["status"]?["pruneError"] != nil {
                    pruned = object
                    break
                }
            }
            let status = try #require(pruned?["status"])
            #expect(status["pruneError"] == nil, "\(status)")
            #expect(
                (status["lastPrune"]?["packsDeleted"]?.intValue ?? 0) >= 1
                    && (status["lastPrune"]?["bytesReclaimed"]?.intValue ?? 0) > 3 << 20)
            #expect(try await ferry.run(["check", "--repo", setup.repository]).succeeded)
        }
    }

    /// Two replicas: only the lease holder acts; killed, the other takes over after the lease.
    @Test func onlyTheLeaderActsAndAStandbyTakesOver() async throws {
        try await withKubeTestCluster { cluster in
            let setup = try await Setup.make(cluster)
            try await cluster.installHello(in: "web")
            try await setup.target(in: "web")
            try await cluster.server.load(
                yaml: """
                    apiVersion: ferry.dev/v1alpha1
                    kind: BackupPlan
                    metadata: {name: hello, namespace: web}
                    spec: {target: local, components: {helmReleases: [hello]}}
                    ---
                    apiVersion: ferry.dev/v1alpha1
                    kind: Backup
                    metadata: {name: first, namespace: web}
                    spec: {plan: hello}
                    """)
            let alpha = try setup.coordinator(identity: "alpha", leaseDuration: 2)
            defer { alpha.kill() }
            let first = try await setup.finished("Backup", namespace: "web", name: "first")
            #expect(first["status"]?["attempt"]?.stringValue?.hasPrefix("alpha-") == true)

            let beta = try setup.coordinator(identity: "beta", leaseDuration: 2)
            defer { beta.kill() }
            alpha.kill(SIGKILL)
            _ = await alpha.wait()
            let second = try await setup.backup("second", plan: "hello", namespace: "web")
            #expect(second["status"]?["phase"] == "Completed")
            #expect(second["status"]?["attempt"]?.stringValue?.hasPrefix("beta-") == true)
            let lease = try #require(
                await cluster.server.object(
                    apiVersion: "coordination.k8s.io/v1", kind: "Lease", namespace: "ferry", name: "ferry-coordinator"))
            #expect(lease["spec"]?["holderIdentity"] == "beta" && lease["spec"]?["leaseTransitions"] == 1)
            beta.kill(SIGTERM)
            let log = await beta.wait().stderr
            #expect(log.contains("waiting for leadership: lease ferry/ferry-coordinator is held by alpha"), "\(log)")
            #expect(log.contains("taken over from alpha"), "\(log)")
        }
    }
}
