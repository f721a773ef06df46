import FerryKube
import FerryKubeTestServer
import FerryKubeTestSupport
import FerryS3TestSupport
import FerryTestSupport
import Foundation
import Testing

/// What a Target may reach: a repository only where one exists (or where the Target asks for a
/// new one), and Ferry's own cloud identity only from Ferry's own namespace.
@Suite(.serialized, .timeLimit(.minutes(10))) struct TargetTests {
    /// A namespace with a password Secret, a Target as given and a plan of one ConfigMap.
    func install(_ setup: CoordinatorTests.Setup, namespace: String, target: String) async throws {
        try await setup.cluster.server.load(
            yaml: """
                apiVersion: v1
                kind: Namespace
                metadata: {name: \(namespace)}
                ---
                apiVersion: v1
                kind: Secret
                metadata: {name: ferry-repository, namespace: \(namespace)}
                data: {password: \(Data("coordinator-test-password".utf8).base64EncodedString())}
                ---
                apiVersion: v1
                kind: ConfigMap
                metadata: {name: settings, namespace: \(namespace), labels: {app: web}}
                data: {a: b}
                ---
                apiVersion: ferry.dev/v1alpha1
                kind: Target
                metadata: {name: repo, namespace: \(namespace)}
                spec: \(target)
                ---
                apiVersion: ferry.dev/v1alpha1
                kind: BackupPlan
                metadata: {name: web, namespace: \(namespace)}
                spec: {target: repo, components: {labelSelector: {matchLabels: {app: web}}}}
                """)
    }

    /// Waits (on a watch) until the Target's status has a phase; returns the Target.
    func checked(_ setup: CoordinatorTests.Setup, namespace: String) async throws -> KubeObject {
        let resource = try await setup.cluster.client.resource(apiVersion: "ferry.dev/v1alpha1", kind: "Target")
        for try await event in setup.cluster.client.watch(resource, namespace: namespace, resourceVersion: nil) {
            if let object = event.object, object.name == "repo", object["status"]?["phase"] != nil { return object }
        }
        throw CoordinatorTests.Setup.WatchEnded()
    }

    /// Waits (on a watch) for the Event with `reason` about the Target; returns it.
    func event(_ setup: CoordinatorTests.Setup, namespace: String, reason: String) async throws -> KubeObject {
        let resource = try await setup.cluster.client.resource(apiVersion: "v1", kind: "Event")
        for try await event in setup.cluster.client.watch(resource, namespace: namespace, resourceVersion: nil) {
            if let object = event.object, object["involvedObject"]?["kind"] == "Target", object["involvedObject"]?["name"] == "repo",
                object["reason"]?.stringValue == reason
            {
                return object
            }
        }
        throw CoordinatorTests.Setup.WatchEnded()
    }

    @Test func aTargetNamingNoRepositoryFailsInsteadOfStartingAnEmptyOne() async throws {
        try await withKubeTestCluster { cluster in
            let setup = try await CoordinatorTests.Setup.make(cluster)
            let typo = "\(cluster.directory)/repositroy"
            try await install(setup, namespace: "web", target: "{path: \(typo), encryptionSecret: {name: ferry-repository}}")
            let coordinator = try setup.coordinator(identity: "alpha")
            defer { coordinator.kill() }

            let backup = try await setup.backup("web-1", plan: "web", namespace: "web")
            #expect(backup["status"]?["phase"] == "Failed")
            let error = backup["status"]?["errors"]?[0]?.stringValue ?? ""
            #expect(error.contains("no Ferry repository at \(typo)") && error.contains("spec.initialize"), "\(error)")
            #expect(!FileManager.default.fileExists(atPath: typo), "nothing is created at a location the Target did not ask to initialise")
            let target = try await checked(setup, namespace: "web")
            #expect(target["status"]?["phase"] == "Failed", "\(target.json.serializedString())")
            #expect(target["status"]?["message"]?.stringValue?.contains("no Ferry repository at \(typo)") == true)
            let failed = try await event(setup, namespace: "web", reason: "Failed")
            #expect(failed["type"] == "Warning" && failed["message"]?.stringValue?.contains("no Ferry repository at \(typo)") == true)
        }
    }

    @Test func aTargetThatAsksForANewRepositoryGetsOneAndIsReady() async throws {
        try await withKubeTestCluster { cluster in
            let setup = try await CoordinatorTests.Setup.make(cluster)
            let path = "\(cluster.directory)/new-repository"
            try await install(
                setup, namespace: "web", target: "{path: \(path), encryptionSecret: {name: ferry-repository}, initialize: true}")
            let coordinator = try setup.coordinator(identity: "alpha")
            defer { coordinator.kill() }
            let target = try await checked(setup, namespace: "web")
            #expect(target["status"]?["phase"] == "Ready", "\(target.json.serializedString())")
            #expect(target["status"]?["location"]?.stringValue == path && target["status"]?["repositoryID"]?.stringValue?.isEmpty == false)
            let ready = try await event(setup, namespace: "web", reason: "Ready")
            #expect(
                ready["type"] == "Normal" && ready["message"]?.stringValue?.hasSuffix("at \(path)") == true,
                "\(ready.json.serializedString())")
            let backup = try await setup.backup("web-1", plan: "web", namespace: "web")
            #expect(backup["status"]?["phase"] == "Completed", "\(backup.json.serializedString())")
        }
    }

    /// The coordinator runs with credentials of its own (here in its environment, as a cloud
    /// identity would be): a Target in an application's namespace that names no Secret must not
    /// use them; the same Target in Ferry's namespace may.
    @Test func onlyTargetsInFerrysNamespaceUseFerrysOwnIdentity() async throws {
        try TestEnvironment.require(SeaweedFS.isAvailable, "SeaweedFS is not installed")
        let s3 = try SeaweedFS.shared()
        try await withKubeTestCluster { cluster in
            let setup = try await CoordinatorTests.Setup.make(cluster)
            let prefix = "targets-\(UUID().uuidString.prefix(8))"
            let spec = { (namespace: String) in
                "{s3: {endpoint: \"\(s3.endpoint)\", bucket: \(s3.bucket), prefix: \(prefix)/\(namespace), "
                    + "addressing: path, region: us-east-1}, "
                    + "encryptionSecret: {name: ferry-repository}, initialize: true}"
            }
            try await install(setup, namespace: "team", target: spec("team"))
            try await install(setup, namespace: "ferry-ns", target: spec("ferry"))
            var ferry = FerryProcess(password: nil)
            ferry.environment["AWS_ACCESS_KEY_ID"] = s3.admin.accessKey
            ferry.environment["AWS_SECRET_ACCESS_KEY"] = s3.admin.secretKey
            // The admin's kubeconfig: this coordinator runs in namespace ferry-ns, which the
            // chart's identities (rendered for namespace ferry) do not cover.
            let coordinator = try ferry.start([
                "coordinator", "--kubeconfig", "\(cluster.directory)/kubeconfig", "--lease-namespace", "ferry-ns", "--identity", "alpha",
            ])
            defer { coordinator.kill() }

            let refused = try await setup.backup("web-1", plan: "web", namespace: "team")
            #expect(refused["status"]?["phase"] == "Failed")
            let error = refused["status"]?["errors"]?[0]?.stringValue ?? ""
            #expect(error.contains("spec.s3.credentialsSecret") && error.contains("only Targets in Ferry's own namespace"), "\(error)")
            let allowed = try await setup.backup("web-1", plan: "web", namespace: "ferry-ns")
            #expect(allowed["status"]?["phase"] == "Completed", "\(allowed.json.serializedString())")
        }
    }
}
