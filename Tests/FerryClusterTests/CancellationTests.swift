import FerryKube
import FerryKubeTestServer
import FerryKubeTestSupport
import FerryTestSupport
import Foundation
import Testing

/// Deleting a Backup stops it: its units end on the agents, nothing is committed, everything it
/// exposed goes, and what it uploaded is left to prune.
@Suite(.serialized, .timeLimit(.minutes(10))) struct CancellationTests {
    /// A CSI volume is being read through its exposed snapshot (the agent is held at its first
    /// stored pack) when the Backup is deleted.
    @Test func aBackupDeletedMidTransferCommitsNothingAndLeavesNothingExposed() async throws {
        try await withKubeTestCluster { cluster in
            let setup = try await CoordinatorTests.Setup.make(cluster)
            let tests = AgentTests()
            let live = "\(cluster.directory)/csi-h1.img"
            _ = try tests.writeDevice(live, seed: 505)
            let hostRoot = "\(cluster.directory)/host"
            try await tests.installCSIVolume(setup)
            let controllers = tests.playCSIAndKubelet(cluster, live: live, hostRoot: hostRoot)
            defer { controllers.cancel() }
            let coordinator = try tests.coordinator(setup, ["--exposer-image", "ferry:test"])
            defer { coordinator.kill() }
            let agent = try tests.agent(setup, identity: "agent-node-2", node: "node-2", stopAt: "pack-stored", ["--host-root", hostRoot])
            defer { agent.kill() }

            try await cluster.server.load(
                yaml: "apiVersion: ferry.dev/v1alpha1\nkind: Backup\nmetadata: {name: db-1, namespace: db}\nspec: {plan: db}")
            #expect(await agent.waitUntilStopped(), "the agent has stored its first pack of the volume")
            let exposed = await cluster.server.objects(apiVersion: "v1", kind: "Pod", namespace: "db").filter {
                $0.labels["ferry.dev/exposes"] != nil
            }
            #expect(exposed.count == 1, "the snapshot is exposed while it is read")

            let backups = try await cluster.client.resource(apiVersion: "ferry.dev/v1alpha1", kind: "Backup")
            _ = try await cluster.client.delete(backups, namespace: "db", name: "db-1")
            // The unit goes while the agent is held: it then either hears of the deletion or
            // finds the unit gone when it writes its result.
            try await setup.gone("VolumeTransfer", namespace: "db", name: "db-1-0")
            agent.kill(SIGCONT)
            // The Backup goes once the coordinator has cleaned up and removed its finalizer.
            try await setup.gone("Backup", namespace: "db", name: "db-1")

            let ferry = FerryProcess(password: "coordinator-test-password")
            let snapshots = try JSONValue(parsing: try await ferry.run(["snapshots", "--repo", setup.repository, "--json"]).stdout)
            #expect(snapshots.arrayValue?.isEmpty == true, "nothing was committed: \(snapshots)")
            for (apiVersion, kind) in [("v1", "Pod"), ("v1", "PersistentVolumeClaim"), ("snapshot.storage.k8s.io/v1", "VolumeSnapshot")] {
                let left = await cluster.server.objects(apiVersion: apiVersion, kind: kind, namespace: "db").filter {
                    $0.labels["ferry.dev/exposes"] != nil
                }
                #expect(left.isEmpty, "no \(kind) of the Backup is left: \(left.map(\.name))")
            }
            #expect(await cluster.server.objects(apiVersion: "ferry.dev/v1alpha1", kind: "VolumeTransfer", namespace: "db").isEmpty)

            // The agent stopped its unit and ended its session: prune reclaims what it uploaded.
            agent.kill(SIGTERM)
            let log = await agent.wait().stderr
            #expect(
                log.contains("VolumeTransfer db/db-1-0: deleted; stopping")
                    || log.contains("VolumeTransfer db/db-1-0: no longer this agent's attempt; leaving it"), "\(log)")
            let prune = try await ferry.run(["prune", "--repo", setup.repository, "--json"])
            #expect(prune.succeeded, "\(prune)")
            let report = try JSONValue(parsing: prune.stdout)
            #expect((report["packsDeleted"]?.intValue ?? 0) >= 1, "the uploaded pack is reclaimed: \(report)")
            #expect(try await ferry.run(["check", "--read-data", "--repo", setup.repository]).succeeded)
        }
    }
}
