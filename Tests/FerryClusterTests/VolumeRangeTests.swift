import FerryBlob
import FerryKube
import FerryKubeTestSupport
import FerryRepo
import FerryTestSupport
import Foundation
import Testing

extension AgentTests {
    static let rangePassword = "coordinator-test-password"

    /// The Target's repository made beforehand with 64 KiB blocks and 16-entry block-map pages
    /// (1 MiB per page), so an 8 MiB volume has 8 pages to split.
    func smallPageRepository(_ setup: CoordinatorTests.Setup) async throws {
        let result = try await FerryProcess(password: Self.rangePassword).run([
            "repo", "init", "--repo", setup.repository, "--block-size", "64K", "--block-map-page-entries", "16",
        ])
        #expect(result.succeeded, "\(result)")
    }

    /// Splits plan db's volumes into up to `ranges` ranges of at least 1 MiB.
    func split(_ cluster: KubeTestCluster, ranges: Int) async throws {
        let plans = try await cluster.client.resource(apiVersion: "ferry.dev/v1alpha1", kind: "BackupPlan")
        var plan = try await cluster.client.get(plans, namespace: "db", name: "db")
        plan.json.setValue(["rangesPerVolume": .int(Int64(ranges)), "minimumRangeSize": "1Mi"], at: ["spec", "parallelism"])
        _ = try await cluster.client.update(plans, plan)
    }

    /// The block-map page ids of a snapshot's only volume, read from the repository.
    func pages(_ setup: CoordinatorTests.Setup, snapshot: String) async throws -> [ChunkID] {
        let repository = try await Repository.open(
            store: try LocalDirectoryStore(root: setup.repository), password: Array(Self.rangePassword.utf8))
        return try await repository.snapshot(matching: snapshot).manifest.volumes[0].pages
    }

    /// A volume split into three ranges of whole block-map pages: three units, carried out at
    /// once by the agent, join into the block map a single pass over the device writes.
    @Test func aVolumeReadInRangesJoinsIntoTheSinglePassBlockMap() async throws {
        try await withKubeTestCluster { cluster in
            let setup = try await CoordinatorTests.Setup.make(cluster)
            try await smallPageRepository(setup)
            let device = "\(cluster.directory)/pv-data.img"
            let original = try writeDevice(device, seed: 98)
            try await install(setup, device: device)
            try await split(cluster, ranges: 3)
            let coordinator = try coordinator(setup)
            defer { coordinator.kill() }
            let agent = try agent(setup, identity: "agent-1", ["--max-units", "3"])
            defer { agent.kill() }

            let backup = try await setup.backup("db-1", plan: "db", namespace: "db")
            #expect(backup["status"]?["phase"] == "Completed", "\(backup.json.serializedString())")
            var ranges: [JSONValue] = []
            for index in 0..<3 {
                let unit = try #require(
                    await cluster.server.object(
                        apiVersion: "ferry.dev/v1alpha1", kind: "VolumeTransfer", namespace: "db", name: "db-1-\(index)"))
                ranges.append(unit["spec"]?["range"] ?? .null)
                #expect(unit["spec"]?["volume"] == "db/data" && unit["status"]?["phase"] == "Succeeded")
            }
            #expect(ranges == [["firstPage": 0, "pageCount": 2], ["firstPage": 2, "pageCount": 3], ["firstPage": 5]])
            // The agent writes a unit's status conditional on the version it last wrote (no read
            // first), and reads the Target and its Secret once for all three units.
            let requests = await cluster.server.requests().filter { $0.userAgent == "ferry-agent" }
            let unitReads = requests.filter { $0.method == "GET" && $0.path.contains("/volumetransfers/db-1-") }
            #expect(unitReads.isEmpty, "\(unitReads.map(\.path))")
            #expect(requests.filter { $0.method == "GET" && $0.path.contains("/targets/") }.count == 1)
            #expect(requests.filter { $0.method == "GET" && $0.path.contains("/secrets/") }.count == 1)
            #expect(
                await cluster.server.object(apiVersion: "ferry.dev/v1alpha1", kind: "VolumeTransfer", namespace: "db", name: "db-1-3")
                    == nil)
            let snapshot = try #require(backup["status"]?["snapshot"]?.stringValue)
            #expect(try await restoredVolume(setup, snapshot: snapshot) == original)

            let single = try await FerryProcess(password: Self.rangePassword).run([
                "backup", device, "--repo", setup.repository, "--name", "single",
            ])
            #expect(single.succeeded, "\(single)")
            let joined = try await pages(setup, snapshot: snapshot)
            let singlePass = try await pages(setup, snapshot: single.stdout.trimmingCharacters(in: .whitespacesAndNewlines))
            #expect(joined.count == 8 && joined == singlePass)
        }
    }

    /// A volume's ranges carried out by two agent processes on the volume's node (they claim
    /// units with conditional status writes) join into the same block map as a single pass:
    /// agent-1 stops at its first block read, agent-2 stores the other ranges meanwhile, then
    /// agent-1 goes on. The pages equal a single-pass backup's and the restore is the device.
    @Test func rangesStoredByTwoAgentsJoinIntoTheSinglePassBlockMap() async throws {
        try await withKubeTestCluster { cluster in
            let setup = try await CoordinatorTests.Setup.make(cluster)
            try await smallPageRepository(setup)
            let device = "\(cluster.directory)/pv-data.img"
            let original = try writeDevice(device, seed: 97)
            try await install(setup, device: device)
            try await split(cluster, ranges: 3)
            // A unit lease longer than the test: agent-1's unit must stay its own while it is stopped.
            let coordinator = try setup.coordinator(identity: "coordinator", ["--unit-lease", "600"])
            defer { coordinator.kill() }
            let first = try agent(setup, identity: "agent-1", stopAt: "block-read")
            defer { first.kill() }

            try await cluster.server.load(
                yaml: "apiVersion: ferry.dev/v1alpha1\nkind: Backup\nmetadata: {name: db-1, namespace: db}\nspec: {plan: db}")
            #expect(await first.waitUntilStopped())
            let second = try agent(setup, identity: "agent-2", ["--max-units", "3"])
            defer { second.kill() }
            // agent-2 stores the two ranges agent-1 does not hold; then agent-1 resumes.
            while await unitsSucceeded(cluster, backup: "db-1") < 2 {
                try await Task.sleep(for: .milliseconds(200))
            }
            first.kill(SIGCONT)

            let backup = try await setup.finished("Backup", namespace: "db", name: "db-1")
            #expect(backup["status"]?["phase"] == "Completed", "\(backup.json.serializedString())")
            var agents: [String] = []
            for index in 0..<3 {
                let unit = try #require(
                    await cluster.server.object(
                        apiVersion: "ferry.dev/v1alpha1", kind: "VolumeTransfer", namespace: "db", name: "db-1-\(index)"))
                #expect(unit["status"]?["phase"] == "Succeeded", "\(unit.json.serializedString())")
                agents.append(unit["status"]?["agent"]?.stringValue ?? "")
            }
            #expect(Set(agents) == ["agent-1", "agent-2"], "\(agents)")
            #expect(agents.filter { $0 == "agent-2" }.count == 2, "\(agents)")
            let snapshot = try #require(backup["status"]?["snapshot"]?.stringValue)
            #expect(try await restoredVolume(setup, snapshot: snapshot) == original)

            let single = try await FerryProcess(password: Self.rangePassword).run([
                "backup", device, "--repo", setup.repository, "--name", "single",
            ])
            #expect(single.succeeded, "\(single)")
            let joined = try await pages(setup, snapshot: snapshot)
            let singlePass = try await pages(setup, snapshot: single.stdout.trimmingCharacters(in: .whitespacesAndNewlines))
            #expect(joined.count == 8 && joined == singlePass)
        }
    }

    /// How many of a Backup's VolumeTransfers have succeeded.
    func unitsSucceeded(_ cluster: KubeTestCluster, backup: String) async -> Int {
        await cluster.server.objects(apiVersion: "ferry.dev/v1alpha1", kind: "VolumeTransfer", namespace: "db")
            .filter { $0.name.hasPrefix("\(backup)-") && $0["status"]?["phase"] == "Succeeded" }.count
    }

    /// A CSI volume in ranges: its snapshot is exposed once per range, the pods land on two
    /// nodes, and the agent on each reads its range there.
    @Test func aCSIVolumesRangesAreReadOnSeveralNodes() async throws {
        try await withKubeTestCluster { cluster in
            let setup = try await CoordinatorTests.Setup.make(cluster)
            try await smallPageRepository(setup)
            let live = "\(cluster.directory)/csi-h1.img"
            let original = try writeDevice(live, seed: 99)
            let hostRoot = "\(cluster.directory)/host"
            try await installCSIVolume(setup)
            try await split(cluster, ranges: 2)
            let run = try runCSI(setup, live: live, hostRoot: hostRoot, nodes: ["node-2", "node-3"])
            defer { run.stop() }

            let backup = try await setup.backup("db-1", plan: "db", namespace: "db")
            #expect(backup["status"]?["phase"] == "Completed", "\(backup.json.serializedString())")
            var nodes: Set<String> = []
            for index in 0..<2 {
                let unit = try #require(
                    await cluster.server.object(
                        apiVersion: "ferry.dev/v1alpha1", kind: "VolumeTransfer", namespace: "db", name: "db-1-\(index)"))
                nodes.insert(unit["spec"]?["node"]?.stringValue ?? "")
                #expect(unit["status"]?["agent"]?.stringValue == "agent-\(unit["spec"]?["node"]?.stringValue ?? "")")
            }
            #expect(nodes == ["node-2", "node-3"])
            let snapshot = try #require(backup["status"]?["snapshot"]?.stringValue)
            #expect(try await restoredVolume(setup, snapshot: snapshot) == original)
            #expect(
                await cluster.server.objects(apiVersion: "v1", kind: "PersistentVolumeClaim", namespace: "db").map(\.name) == ["data"],
                "both exposures are gone")
        }
    }
}
