import FerryKube
import FerryKubeTestServer
import FerryKubeTestSupport
import FerryTestSupport
import Foundation
import Testing

/// A volume's status stays small whatever the volume's size: the agent keeps the block-map page
/// ids in the repository (one metadata chunk) and the unit's status names that chunk. The test
/// server refuses objects above etcd's 1.5 MiB, as a real cluster does.
@Suite(.serialized, .timeLimit(.minutes(10))) struct LargeVolumeTests {
    @Test func aVolumeOfManyPagesFitsInItsUnitsStatus() async throws {
        try await withKubeTestCluster { cluster in
            let setup = try await CoordinatorTests.Setup.make(cluster)
            let tests = AgentTests()
            // 512 GiB, sparse, with data at both ends; 16 blocks of 1 MiB a page: 32768 pages,
            // whose ids in hex (2.2 MB) would not fit in one object.
            let device = "\(cluster.directory)/pv-data.img"
            let size: Int64 = 512 << 30
            var random = DeterministicBytes(seed: 1212)
            let head = Data(random.bytes(3 << 20)), tail = Data(random.bytes(1 << 20))
            let handle = try FileHandle(
                forWritingTo: URL(
                    fileURLWithPath: {
                        FileManager.default.createFile(atPath: device, contents: nil); return device
                    }()))
            try handle.write(contentsOf: head)
            try handle.seek(toOffset: UInt64(size) - UInt64(tail.count))
            try handle.write(contentsOf: tail)
            try handle.close()

            let ferry = FerryProcess(password: "coordinator-test-password")
            let initialized = try await ferry.run([
                "repo", "init", "--repo", setup.repository, "--block-size", "1M", "--block-map-page-entries", "16",
            ])
            #expect(initialized.succeeded, "\(initialized)")
            try await tests.install(setup, device: device)
            let coordinator = try setup.coordinator(identity: "coordinator")
            defer { coordinator.kill() }
            let agent = try tests.agent(setup, identity: "agent-1")
            defer { agent.kill() }

            let backup = try await setup.backup("db-1", plan: "db", namespace: "db")
            #expect(backup["status"]?["phase"] == "Completed", "\(backup.json.serializedString())")
            let unit = try #require(
                await cluster.server.object(apiVersion: "ferry.dev/v1alpha1", kind: "VolumeTransfer", namespace: "db", name: "db-1-0"))
            #expect(unit["status"]?["pageList"]?["count"] == 32768, "\(unit["status"]?["pageList"] ?? nil)")
            #expect(unit.json.serialized().count < 16 << 10, "the unit's status is small: \(unit.json.serialized().count) bytes")

            let snapshot = try #require(backup["status"]?["snapshot"]?.stringValue)
            #expect(try await ferry.run(["check", "--repo", setup.repository]).succeeded)
            let out = "\(cluster.directory)/restored.img"
            let restored = try await ferry.run(["restore", snapshot, out, "--volume", "db/data", "--repo", setup.repository])
            #expect(restored.succeeded, "\(restored)")
            let reader = try FileHandle(forReadingFrom: URL(fileURLWithPath: out))
            defer { try? reader.close() }
            #expect(try reader.seekToEnd() == UInt64(size))
            try reader.seek(toOffset: 0)
            #expect(try reader.read(upToCount: head.count) == head)
            try reader.seek(toOffset: UInt64(size) - UInt64(tail.count))
            #expect(try reader.read(upToCount: tail.count) == tail)
        }
    }
}
