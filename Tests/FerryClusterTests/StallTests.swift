import FerryKube
import FerryKubeTestServer
import FerryKubeTestSupport
import FerryTestSupport
import Foundation
import Testing

/// Work that cannot end is ended: a unit whose reads hang is taken back and, after its requeues,
/// failed with the reason; a Backup that runs past its timeout fails and its units go.
@Suite(.serialized, .timeLimit(.minutes(10))) struct StallTests {
    @Test func aUnitWhoseReadsHangIsRequeuedAndThenFails() async throws {
        try await withKubeTestCluster { cluster in
            let (setup, _, _) = try await AgentTests().installedDevice(cluster, seed: 606)
            let coordinator = try setup.coordinator(
                identity: "coordinator", ["--unit-lease", "60", "--unit-stall-timeout", "3", "--max-requeues", "1"])
            defer { coordinator.kill() }
            // Every block read of this agent blocks for good; its heartbeats go on.
            let agent = try setup.agent(
                identity: "stuck", ["--unit-stall-timeout", "3"], environment: ["FERRY_TEST_HANG_AT": "block-read"])
            defer { agent.kill() }

            let backup = try await setup.backup("db-1", plan: "db", namespace: "db")
            #expect(backup["status"]?["phase"] == "PartiallyFailed", "\(backup.json.serializedString())")
            let error = backup["status"]?["errors"]?[0]?.stringValue ?? ""
            #expect(
                error.contains("volume db/data") && error.contains("no progress from attempt stuck-")
                    && error.contains("gave up after 1 requeue"),
                "\(error)")
            let unit = try #require(
                await cluster.server.object(apiVersion: "ferry.dev/v1alpha1", kind: "VolumeTransfer", namespace: "db", name: "db-1-0"))
            #expect(unit["status"]?["phase"] == "Failed" && unit["status"]?["requeues"] == 2, "\(unit.json.serializedString())")
            agent.kill(SIGTERM)
            let log = await agent.wait().stderr
            #expect(log.contains("VolumeTransfer db/db-1-0: no progress for 3.0 seconds; giving it up"), "\(log)")
        }
    }

    /// No agent ever claims the unit: the Backup's own timeout ends it, long before the claim
    /// timeout would, and its unit is deleted.
    @Test func aBackupThatDoesNotEndWithinItsTimeoutFails() async throws {
        try await withKubeTestCluster { cluster in
            let (setup, _, _) = try await AgentTests().installedDevice(cluster, seed: 607)
            let coordinator = try setup.coordinator(identity: "coordinator")
            defer { coordinator.kill() }
            try await cluster.server.load(
                yaml: "apiVersion: ferry.dev/v1alpha1\nkind: Backup\nmetadata: {name: db-1, namespace: db}\nspec: {plan: db, timeout: 3s}")
            let backup = try await setup.finished("Backup", namespace: "db", name: "db-1")
            #expect(backup["status"]?["phase"] == "Failed", "\(backup.json.serializedString())")
            #expect(backup["status"]?["errors"] == ["did not end within 3s (spec.timeout)"], "\(backup.json.serializedString())")
            #expect(await cluster.server.objects(apiVersion: "ferry.dev/v1alpha1", kind: "VolumeTransfer", namespace: "db").isEmpty)
            #expect(
                try await setup.released("Backup", namespace: "db", name: "db-1")["status"]?["phase"] == "Failed",
                "the finalizer goes after the final status")
        }
    }
}
