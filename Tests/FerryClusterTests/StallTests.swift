import FerryAPI
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

    /// Two units of one node whose agent carries out one at a time (here the test plays it):
    /// the second waits past the claim timeout while the first moves (10,000 units through two
    /// agents had hundreds fail so), and fails only once nothing on its node moves.
    @Test func aUnitQueuedBehindABusyAgentWaitsAndFailsOnlyOnceItsNodeIsIdle() async throws {
        try await withKubeTestCluster { cluster in
            let tests = AgentTests()
            let setup = try await CoordinatorTests.Setup.make(cluster)
            try await tests.smallPageRepository(setup)
            let device = "\(cluster.directory)/pv-data.img"
            _ = try tests.writeDevice(device, seed: 608)
            try await tests.install(setup, device: device)
            try await tests.split(cluster, ranges: 2)
            // A loaded CI machine (load 16 on 2 cores) held this test's own reports 6 s apart: the
            // timeout is far above any pause seen, and the reports run past twice of it by the clock.
            let claimTimeout = Duration.seconds(20)
            let coordinator = try setup.coordinator(identity: "coordinator", ["--claim-timeout", "20"])
            defer { coordinator.kill() }
            try await cluster.server.load(
                yaml: "apiVersion: ferry.dev/v1alpha1\nkind: Backup\nmetadata: {name: db-1, namespace: db}\nspec: {plan: db}")
            let ferry = FerryClient(cluster.client)
            func unit(_ name: String) async throws -> VolumeTransfer? {
                try? await ferry.get(VolumeTransfer.self, namespace: "db", name: name, neededBy: "the test")
            }
            var first: VolumeTransfer?
            for _ in 0..<200 where first == nil {
                if try await unit("db-1-1") != nil {
                    first = try await unit("db-1-0")
                } else {
                    try await Task.sleep(for: .milliseconds(50))
                }
            }
            // Claimed, then progress every 0.25 s until 2.2 claim timeouts have passed.
            let waiting = try #require(first)
            var claimed = try #require(
                try await ferry.updateStatus(waiting, basis: .given) { status, _ in
                    status = VolumeTransferStatus(phase: .running)
                    status.attempt = "test-1"
                    return true
                })
            let clock = ContinuousClock()
            let reporting = clock.now
            var lastReport = reporting
            var longestGap = Duration.zero
            var step: Int64 = 0
            while clock.now - reporting < claimTimeout * 2.2 {
                try await Task.sleep(for: .milliseconds(250))
                step += 1
                claimed = try #require(
                    try await ferry.updateStatus(claimed) { status, _ in
                        status.bytesDone = step
                        return true
                    })
                longestGap = max(longestGap, clock.now - lastReport)
                lastReport = clock.now
            }
            #expect(
                try await unit("db-1-1")?.phase == .pending,
                "a unit behind a busy agent waits (the longest gap between this test's reports: \(longestGap))")
            // Now nothing on node-1 moves: the waiting unit fails for want of an agent.
            var second = try await unit("db-1-1")
            let idle = clock.now
            while second?.phase == .pending, clock.now - idle < claimTimeout * 6 {
                try await Task.sleep(for: .milliseconds(200))
                second = try await unit("db-1-1")
            }
            #expect(second?.phase == .failed, "\(String(describing: second?.status))")
            #expect(
                second?.status.message?.contains("no agent on node node-1 claimed it, or moved any unit there, within 20.0 seconds") == true
            )
        }
    }

    /// A unit deleted before any agent ran it never ends: it counts as failed, and the Backup
    /// commits the rest (here nothing) and ends PartiallyFailed.
    @Test func aUnitDeletedBeforeItRanFailsItsVolume() async throws {
        try await withKubeTestCluster { cluster in
            let (setup, _, _) = try await AgentTests().installedDevice(cluster, seed: 609)
            let coordinator = try setup.coordinator(identity: "coordinator")
            defer { coordinator.kill() }
            try await cluster.server.load(
                yaml: "apiVersion: ferry.dev/v1alpha1\nkind: Backup\nmetadata: {name: db-1, namespace: db}\nspec: {plan: db}")
            let units = try await cluster.client.resource(apiVersion: "ferry.dev/v1alpha1", kind: "VolumeTransfer")
            var deleted = false
            for _ in 0..<200 where !deleted {
                if await cluster.server.object(apiVersion: "ferry.dev/v1alpha1", kind: "VolumeTransfer", namespace: "db", name: "db-1-0")
                    != nil
                {
                    _ = try await cluster.client.delete(units, namespace: "db", name: "db-1-0")
                    deleted = true
                } else {
                    try await Task.sleep(for: .milliseconds(50))
                }
            }
            #expect(deleted)
            let backup = try await setup.finished("Backup", namespace: "db", name: "db-1")
            #expect(backup["status"]?["phase"] == "PartiallyFailed", "\(backup.json.serializedString())")
            #expect(backup["status"]?["errors"] == ["volume db/data: the VolumeTransfer was deleted before it finished"])
            #expect(backup["status"]?["progress"]?["failed"] == 1)
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
