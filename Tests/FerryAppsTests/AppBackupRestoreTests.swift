import FerryKube
import FerryKubeTestServer
import FerryKubeTestSupport
import FerryTestSupport
import Foundation
import Testing

/// `ferry app backup` and `ferry app restore` run as the real binary against test API servers:
/// one cluster the application is captured from, a fresh one it is restored into.
@Suite(.serialized) struct AppBackupRestoreTests {
    /// A repository directory and a `ferry` that uses it.
    struct Repo {
        let directory: String
        let ferry = FerryProcess(password: "app-test-password")

        static func make() async throws -> Repo {
            let repo = Repo(directory: NSTemporaryDirectory() + "ferry-app-repo-\(UUID().uuidString)")
            let result = try await repo.ferry.run(["repo", "init", "--repo", repo.directory])
            #expect(result.succeeded, "\(result)")
            return repo
        }

        func run(_ arguments: [String]) async throws -> ChildProcess.Result {
            try await ferry.run(arguments + ["--repo", directory])
        }

        func json(_ arguments: [String]) async throws -> JSONValue {
            let result = try await run(arguments + ["--json"])
            #expect(result.succeeded, "\(result)")
            return try JSONValue(parsing: result.stdout)
        }

        func remove() { try? FileManager.default.removeItem(atPath: directory) }
    }

    func kubeconfig(_ cluster: KubeTestCluster) -> [String] { ["--kubeconfig", "\(cluster.directory)/kubeconfig"] }

    /// The real helm installs and upgrades a chart; its objects and release records are captured,
    /// survive a prune, and restore into an empty cluster where helm still manages the release.
    @Test func helmReleaseRestoresIntoAnotherClusterAndHelmStillManagesIt() async throws {
        let repo = try await Repo.make()
        defer { repo.remove() }
        let snapshot: String? = try await withKubeTestCluster { source in
            try await source.installHello(in: "web")
            _ = try await source.helm([
                "upgrade", "hello", KubeTestCluster.helloChart, "-n", "web", "--set", "replicaCount=2",
            ])
            let backup = try await repo.json(["app", "backup", "--helm-release", "hello", "-n", "web"] + kubeconfig(source))
            #expect(backup["resources"] == 5 && backup["name"] == "helm:hello@web" && backup["issues"] == [])
            return backup["snapshot"]?.stringValue
        }
        guard let snapshot else { return }

        // Nothing forgotten: prune must keep every captured object (they are live).
        let prune = try await repo.run(["prune"])
        #expect(prune.succeeded, "\(prune)")
        let check = try await repo.run(["check", "--read-data"])
        #expect(check.succeeded, "\(check)")
        let listing = try JSONValue(parsing: try await repo.run(["snapshots", "--json"]).stdout)
        #expect(listing[0]?["resources"]?["count"] == 5 && listing[0]?["resources"]?["application"] == "Helm release hello")

        try await withKubeTestCluster { target in
            let restored = try await repo.json(["app", "restore", snapshot] + kubeconfig(target))
            // The namespace is created, then the five objects.
            #expect(restored["created"] == 6 && restored["failed"] == 0, "\(restored)")
            let deployment = try #require(
                await target.server.object(apiVersion: "apps/v1", kind: "Deployment", namespace: "web", name: "hello-hello-world"))
            #expect(deployment["spec"]?["replicas"] == 2)
            #expect(deployment.metadata["ownerReferences"] == nil)
            let service = try #require(
                await target.server.object(apiVersion: "v1", kind: "Service", namespace: "web", name: "hello-hello-world"))
            #expect(service["spec"]?["clusterIP"]?.stringValue?.isEmpty == false, "the target cluster allocates its own cluster IP")

            let list = (try await target.helm(["list", "-n", "web", "-o", "json"]))
            let releases = try JSONValue(parsing: list)
            #expect(releases[0]?["name"] == "hello" && releases[0]?["revision"] == "2" && releases[0]?["status"] == "deployed", "\(list)")
            _ = try await target.helm([
                "upgrade", "hello", KubeTestCluster.helloChart, "-n", "web", "--set", "replicaCount=3",
            ])
            let upgraded = try #require(
                await target.server.object(apiVersion: "apps/v1", kind: "Deployment", namespace: "web", name: "hello-hello-world"))
            #expect(upgraded["spec"]?["replicas"] == 3)

            // Again: everything is there already, nothing is changed.
            let again = try await repo.json(["app", "restore", snapshot] + kubeconfig(target))
            #expect(again["existing"] == 5 && again["created"] == 0 && again["failed"] == 0, "\(again)")
            #expect(
                await target.server.object(apiVersion: "apps/v1", kind: "Deployment", namespace: "web", name: "hello-hello-world")?[
                    "spec"]?["replicas"] == 3)
        }

        // Forgotten, the captured objects go with the next prune.
        #expect(try await repo.run(["forget", snapshot]).succeeded)
        let reclaim = try await repo.json(["prune"])
        #expect((reclaim["packsDeleted"]?.intValue ?? 0) >= 1, "\(reclaim)")
        #expect(try await repo.run(["check"]).succeeded)
    }

    /// Restored into another namespace, the release record names the new one, so helm lists,
    /// reports and upgrades it there.
    @Test func helmReleaseMovedToAnotherNamespace() async throws {
        let repo = try await Repo.make()
        defer { repo.remove() }
        let snapshot: String? = try await withKubeTestCluster { source in
            try await source.installHello(in: "web")
            return try await repo.json(["app", "backup", "--helm-release", "hello", "-n", "web"] + kubeconfig(source))["snapshot"]?
                .stringValue
        }
        guard let snapshot else { return }
        try await withKubeTestCluster { target in
            let restored = try await repo.json(["app", "restore", snapshot, "--namespace-mapping", "web=web2"] + kubeconfig(target))
            #expect(restored["failed"] == 0 && restored["created"] == 5, "\(restored)")
            let releases = try JSONValue(parsing: (try await target.helm(["list", "-n", "web2", "-o", "json"])))
            #expect(releases[0]?["name"] == "hello" && releases[0]?["namespace"] == "web2", "\(releases)")
            let status = (try await target.helm(["status", "hello", "-n", "web2"]))
            #expect(status.contains("NAMESPACE: web2"), "\(status)")
            _ = try await target.helm([
                "upgrade", "hello", KubeTestCluster.helloChart, "-n", "web2", "--set", "replicaCount=3",
            ])
            let deployments = await target.server.objects(apiVersion: "apps/v1", kind: "Deployment")
            #expect(deployments.map { "\($0.namespace ?? "")/\($0.name)" } == ["web2/hello-hello-world"])
            #expect(deployments.first?["spec"]?["replicas"] == 3)
        }
    }

    /// Captures a plain-Deployment operator with its CRD, RBAC and custom resource, then
    /// restores it into another namespace of a fresh cluster.
    func captureOperator(_ repo: Repo) async throws -> String {
        try await withKubeTestCluster { source in
            try await source.loadMemcachedOperator(in: "system")
            try await source.load("operators/memcached-operator/config/samples/cache_v1alpha1_memcached.yaml", namespace: "system")
            try await OperatorDiscoveryTests().addOperand(source, namespace: "system")
            let backup = try await repo.json(["app", "backup", "--operator", "controller-manager", "-n", "system"] + kubeconfig(source))
            return try #require(backup["snapshot"]?.stringValue)
        }
    }

    /// Plays the Deployment controller for one Deployment: once it appears, reports it available.
    func markAvailable(_ cluster: KubeTestCluster, namespace: String, name: String) -> Task<Void, any Error> {
        Task {
            let deployments = try await cluster.client.resource(apiVersion: "apps/v1", kind: "Deployment")
            for try await event in cluster.client.watch(deployments, namespace: namespace, resourceVersion: nil) {
                guard case .added(let object) = event, object.name == name else { continue }
                var ready = object
                ready.json["status"] = [
                    "observedGeneration": .int(object.generation ?? 1), "replicas": 1, "readyReplicas": 1, "availableReplicas": 1,
                ]
                _ = try await cluster.client.updateStatus(deployments, ready)
                return
            }
        }
    }

    @Test func operatorIsReadyBeforeItsCustomResourcesAndOwnersAreRelinked() async throws {
        let repo = try await Repo.make()
        defer { repo.remove() }
        let snapshot = try await captureOperator(repo)
        try await withKubeTestCluster { target in
            let controller = markAvailable(target, namespace: "ops", name: "controller-manager")
            defer { controller.cancel() }
            let restored = try await repo.json(["app", "restore", snapshot, "--namespace-mapping", "system=ops"] + kubeconfig(target))
            #expect(restored["failed"] == 0, "\(restored)")
            let phases = (restored["waits"]?.arrayValue ?? []).compactMap { $0["phase"]?.stringValue }
            #expect(phases == ["crds", "operator"])

            // The custom resource was created only after the operator reported itself available.
            let requests = await target.server.requests()
            let available = try #require(
                requests.firstIndex { $0.method == "PUT" && $0.path.hasSuffix("/namespaces/ops/deployments/controller-manager/status") })
            let custom = try #require(requests.firstIndex { $0.method == "POST" && $0.path.hasSuffix("/namespaces/ops/memcacheds") })
            #expect(available < custom)

            // Owner references point at the restored owner's new uid.
            let sample = try #require(
                await target.server.object(
                    apiVersion: "cache.example.com/v1alpha1", kind: "Memcached", namespace: "ops", name: "memcached-sample"))
            let operand = try #require(
                await target.server.object(apiVersion: "apps/v1", kind: "Deployment", namespace: "ops", name: "memcached-sample"))
            #expect(operand.ownerReferences.map(\.uid) == [sample.uid!])
            #expect(operand.ownerReferences.first?.controller == true)
            // Namespaces are mapped wherever they are named.
            let binding = try #require(
                await target.server.object(
                    apiVersion: "rbac.authorization.k8s.io/v1", kind: "ClusterRoleBinding", name: "manager-rolebinding"))
            #expect(binding["subjects"]?[0]?["namespace"] == "ops")
            #expect(await target.server.objects(apiVersion: "apps/v1", kind: "Deployment", namespace: "system").isEmpty)
        }
    }

    @Test func anOperatorThatNeverBecomesReadyStopsTheRestoreBeforeItsCustomResources() async throws {
        let repo = try await Repo.make()
        defer { repo.remove() }
        let snapshot = try await captureOperator(repo)
        try await withKubeTestCluster { target in
            let result = try await repo.run(["app", "restore", snapshot, "--wait-timeout", "1"] + kubeconfig(target))
            #expect(result.status == 1)
            #expect(result.stderr.contains("operator (wait until ready) not ready after 1s"), "\(result.stderr)")
            #expect(result.stderr.contains("Deployment.apps system/controller-manager: "), "\(result.stderr)")
            #expect(await target.server.objects(apiVersion: "cache.example.com/v1alpha1", kind: "Memcached").isEmpty)
            #expect(
                await target.server.object(apiVersion: "apps/v1", kind: "Deployment", namespace: "system", name: "controller-manager")
                    != nil)

            // Once the operator runs, the same restore finishes the job.
            let controller = markAvailable(target, namespace: "system", name: "controller-manager")
            defer { controller.cancel() }
            let again = try await repo.json(["app", "restore", snapshot] + kubeconfig(target))
            #expect(again["failed"] == 0 && (again["created"]?.intValue ?? 0) >= 2 && (again["existing"]?.intValue ?? 0) >= 5, "\(again)")
            #expect(await target.server.objects(apiVersion: "cache.example.com/v1alpha1", kind: "Memcached").count == 1)
        }
    }

    @Test func badInputIsAClearError() async throws {
        let repo = try await Repo.make()
        defer { repo.remove() }
        try await withKubeTestCluster { cluster in
            let nothing = try await repo.run(["app", "backup", "--helm-release", "ghost", "-n", "default"] + kubeconfig(cluster))
            #expect(
                nothing.status == 1
                    && nothing.stderr.contains("Helm release ghost has no components in namespace default; nothing was stored"),
                "\(nothing)")
            let mapping = try await repo.run(["app", "restore", "latest", "--namespace-mapping", "a"] + kubeconfig(cluster))
            #expect(mapping.status == 64 && mapping.stderr.contains("--namespace-mapping takes old=new, got a"), "\(mapping)")
            let policy = try await repo.run(["app", "restore", "latest", "--existing", "replace"] + kubeconfig(cluster))
            #expect(policy.status == 64 && policy.stderr.contains("--existing must be skip or update"), "\(policy)")

            // A volume snapshot holds no objects.
            let image = NSTemporaryDirectory() + "ferry-app-\(UUID().uuidString).img"
            defer { try? FileManager.default.removeItem(atPath: image) }
            try Data(repeating: 7, count: 1 << 20).write(to: URL(fileURLWithPath: image))
            #expect(try await repo.run(["backup", image]).succeeded)
            let volume = try await repo.run(["app", "restore", "latest"] + kubeconfig(cluster))
            #expect(volume.status == 1 && volume.stderr.contains("holds no Kubernetes objects"), "\(volume)")
        }
    }
}
