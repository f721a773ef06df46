import FerryKube
import FerryKubeTestSupport
import FerryTestSupport
import Foundation
import Testing

/// A path Target is one directory that the coordinator and every agent must share (the chart's
/// `pathTargets` mounts it into each). An agent that finds another repository at that path, or
/// none, stores nothing and fails its unit naming the Target, instead of writing chunks the
/// coordinator's repository never gets.
@Suite(.serialized, .timeLimit(.minutes(10))) struct PathTargetTests {
    /// An agent in its own mount namespace where `directory` is mounted over the Target's path.
    func agent(_ setup: CoordinatorTests.Setup, seeing directory: String) throws -> ChildProcess {
        try setup.agent(
            identity: "elsewhere",
            prefix: [
                "/usr/bin/unshare", "--mount", "--propagation", "private", "/bin/sh", "-c",
                #"mount --bind "$1" "$2" && shift 2 && exec "$@""#, "sh",
                directory, setup.repository,
            ])
    }

    func files(under directory: String) -> Set<String> {
        Set((FileManager.default.enumerator(atPath: directory)?.allObjects as? [String]) ?? [])
    }

    @Test func anAgentThatSeesAnotherRepositoryOrNoneAtThePathStoresNothing() async throws {
        try TestEnvironment.requireRoot("mount namespaces")
        try TestEnvironment.requireTool("unshare")
        try await withKubeTestCluster { cluster in
            let tests = AgentTests()
            let (setup, _, _) = try await tests.installedDevice(cluster, seed: 1313)
            let ferry = FerryProcess(password: "coordinator-test-password")
            let other = "\(cluster.directory)/other-repository"
            #expect(try await ferry.run(["repo", "init", "--repo", other]).succeeded)
            let before = files(under: other)
            let coordinator = try tests.coordinator(setup)
            defer { coordinator.kill() }

            // The node's directory holds a repository of its own (same password, another id).
            let misplaced = try agent(setup, seeing: other)
            let first = try await setup.backup("db-1", plan: "db", namespace: "db")
            misplaced.kill()
            #expect(first["status"]?["phase"] == "PartiallyFailed", "\(first.json.serializedString())")
            let refused = first["status"]?["errors"]?[0]?.stringValue ?? ""
            #expect(refused.contains("which the coordinator uses") && refused.contains("chart value pathTargets"), "\(refused)")
            #expect(files(under: other) == before, "nothing was stored into the node's own repository")

            // The node's directory is empty.
            let empty = "\(cluster.directory)/empty"
            try FileManager.default.createDirectory(atPath: empty, withIntermediateDirectories: true)
            let unmounted = try agent(setup, seeing: empty)
            defer { unmounted.kill() }
            let second = try await setup.backup("db-2", plan: "db", namespace: "db")
            #expect(second["status"]?["phase"] == "PartiallyFailed", "\(second.json.serializedString())")
            let missing = second["status"]?["errors"]?[0]?.stringValue ?? ""
            #expect(missing.contains("no Ferry repository at") && missing.contains("chart value pathTargets"), "\(missing)")
            #expect(try FileManager.default.contentsOfDirectory(atPath: empty).isEmpty, "no repository was created there")
        }
    }
}
