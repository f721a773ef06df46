import FerryKube
import FerryKubeTestServer
import FerryKubeTestSupport
import FerryTestSupport
import Foundation
import Synchronization
import Testing

/// No Backup stays InProgress after its work ended, and two coordinators never act at once: a
/// final status that fails to write is written again, a leader killed mid-backup is replaced and
/// the Backup finished, and a leader that cannot renew its lease stops before anyone takes over.
@Suite(.serialized, .timeLimit(.minutes(10))) struct CoordinatorFailoverTests {
    /// A namespace with one labelled ConfigMap, a Target and a plan of it.
    func installConfigMapApp(_ setup: CoordinatorTests.Setup) async throws {
        try await setup.cluster.server.load(
            yaml: """
                apiVersion: v1
                kind: Namespace
                metadata: {name: web, labels: {pod-security.kubernetes.io/enforce: restricted}}
                ---
                apiVersion: v1
                kind: ConfigMap
                metadata: {name: settings, namespace: web, labels: {app: web}}
                data: {a: b}
                ---
                apiVersion: ferry.dev/v1alpha1
                kind: BackupPlan
                metadata: {name: web, namespace: web}
                spec: {target: local, components: {labelSelector: {matchLabels: {app: web}}}}
                """)
        try await setup.target(in: "web")
    }

    /// The final status write fails more often than the client retries a request: the
    /// coordinator writes it again until it lands, instead of leaving the Backup InProgress (or
    /// writing Failed over a committed snapshot).
    @Test func aFinalStatusThatFailsToWriteIsWrittenAgain() async throws {
        try await withKubeTestCluster { cluster in
            let setup = try await CoordinatorTests.Setup.make(cluster)
            try await installConfigMapApp(setup)
            let failed = Mutex(0)
            _ = await cluster.server.addHook(
                .init(
                    times: 8,
                    matching: { request in
                        request.path.hasSuffix("/backups/web-1/status")
                            && String(decoding: request.body, as: UTF8.self).contains("\"Completed\"")
                    }
                ) { _, _ in
                    failed.withLock { $0 += 1 }
                    return .respond(status: 500, reason: "InternalError", message: "etcdserver: request timed out")
                })
            let coordinator = try setup.coordinator(identity: "alpha")
            defer { coordinator.kill() }
            let backup = try await setup.backup("web-1", plan: "web", namespace: "web")
            #expect(backup["status"]?["phase"] == "Completed", "\(backup.json.serializedString())")
            #expect(backup["status"]?["snapshot"]?.stringValue?.isEmpty == false)
            #expect(failed.withLock { $0 } == 8, "every injected failure was met")
        }
    }

    /// The leader is killed while an agent is in the middle of the Backup's volume (stopped at
    /// its first stored pack); a second coordinator takes the lease over, picks the Backup up
    /// and finishes it once the agent goes on.
    @Test func aLeaderKilledMidBackupIsReplacedAndTheBackupEnds() async throws {
        try await withKubeTestCluster { cluster in
            let setup = try await CoordinatorTests.Setup.make(cluster)
            let image = "\(cluster.directory)/pv-data.img"
            let original = try AgentTests().writeDevice(image, seed: 404)
            try await AgentTests().install(setup, device: image)
            let alpha = try setup.coordinator(identity: "alpha", leaseDuration: 10, ["--unit-lease", "30"])
            defer { alpha.kill() }
            let agent = try AgentTests().agent(setup, identity: "agent-1", stopAt: "pack-stored")
            defer { agent.kill() }
            try await cluster.server.load(
                yaml: "apiVersion: ferry.dev/v1alpha1\nkind: Backup\nmetadata: {name: db-1, namespace: db}\nspec: {plan: db}")
            #expect(await agent.waitUntilStopped(), "the agent reaches its first stored pack")

            alpha.kill()
            let beta = try setup.coordinator(identity: "beta", leaseDuration: 10, ["--unit-lease", "30"])
            defer { beta.kill() }
            agent.kill(SIGCONT)
            let backup = try await setup.finished("Backup", namespace: "db", name: "db-1")
            #expect(backup["status"]?["phase"] == "Completed", "\(backup.json.serializedString())")
            #expect(backup["status"]?["attempt"]?.stringValue?.hasPrefix("beta-") == true, "the new leader finished it")
            let snapshot = try #require(backup["status"]?["snapshot"]?.stringValue)
            #expect(try await AgentTests().restoredVolume(setup, snapshot: snapshot) == original)
        }
    }

    /// The leader's renewals fail: it must have stopped (the process exits) before the standby
    /// takes the lease over, which the standby may do once the record has been still for a
    /// lease duration.
    @Test func aLeaderThatCannotRenewStopsBeforeTheStandbyTakesOver() async throws {
        try await withKubeTestCluster { cluster in
            let setup = try await CoordinatorTests.Setup.make(cluster)
            let alpha = try setup.coordinator(identity: "alpha", leaseDuration: 3)
            defer { alpha.kill() }
            let leases = try await cluster.client.resource(apiVersion: "coordination.k8s.io/v1", kind: "Lease")
            // Wait (on a watch) until alpha holds the lease.
            for try await event in cluster.client.watch(leases, namespace: "ferry", resourceVersion: nil) {
                if event.object?["spec"]?["holderIdentity"] == "alpha" { break }
            }
            // From now on every renewal alpha sends fails.
            _ = await cluster.server.addHook(
                .init(
                    times: nil,
                    matching: { request in
                        request.method == "PUT" && request.path.contains("/leases/")
                            && String(decoding: request.body, as: UTF8.self).contains("\"alpha\"")
                    }
                ) { _, _ in
                    .respond(status: 503, reason: "ServiceUnavailable", message: "the server is currently unable to handle the request")
                })
            let alphaRunningAtTakeover = Mutex<Bool?>(nil)
            _ = await cluster.server.addHook(
                .init(
                    times: 1,
                    matching: { request in
                        request.method == "PUT" && request.path.contains("/leases/")
                            && String(decoding: request.body, as: UTF8.self).contains("\"beta\"")
                    }
                ) { _, _ in
                    alphaRunningAtTakeover.withLock { $0 = alpha.process.isRunning }
                    return .proceed
                })
            let beta = try setup.coordinator(identity: "beta", leaseDuration: 3)
            defer { beta.kill() }
            let exited = await alpha.wait()
            #expect(exited.status == 3, "alpha exits when it loses the lease: \(exited)")
            for try await event in cluster.client.watch(leases, namespace: "ferry", resourceVersion: nil) {
                if event.object?["spec"]?["holderIdentity"] == "beta" { break }
            }
            #expect(alphaRunningAtTakeover.withLock { $0 } == false, "alpha had stopped before beta took the lease over")
        }
    }
}
