import FerryKube
import FerryKubeTestServer
import FerryKubeTestSupport
import FerryTestSupport
import Foundation
import Testing

/// A Restore of part of a Backup: volume data follows the claims it selects, and its transforms
/// are applied (or, when one does not apply, nothing is restored).
@Suite(.serialized, .timeLimit(.minutes(10))) struct RestoreSelectionTests {
    /// A second claim, db/logs, labelled app=db like db/data, on its own local Block volume.
    func installLogs(_ setup: CoordinatorTests.Setup, device: String) async throws {
        try await setup.cluster.server.load(yaml: AgentTests.boundLocalBlockClaim("logs", device: device))
    }

    func restore(_ setup: CoordinatorTests.Setup, name: String, spec: String) async throws -> KubeObject {
        try await setup.cluster.server.load(
            yaml: "apiVersion: ferry.dev/v1alpha1\nkind: Restore\nmetadata: {name: \(name), namespace: db}\nspec: \(spec)")
        return try await setup.finished("Restore", namespace: "db", name: name)
    }

    @Test func aRestoreOfOneClaimWritesOnlyItsVolume() async throws {
        try await withKubeTestCluster { cluster in
            let setup = try await CoordinatorTests.Setup.make(cluster)
            let agents = AgentTests()
            let dataDevice = "\(cluster.directory)/pv-data.img"
            let logsDevice = "\(cluster.directory)/pv-logs.img"
            _ = try agents.writeDevice(dataDevice, seed: 31)
            let logs = try agents.writeDevice(logsDevice, seed: 32)
            try await agents.install(setup, device: dataDevice)
            try await installLogs(setup, device: logsDevice)
            let running = [
                try setup.coordinator(identity: "coordinator", ["--unit-lease", "30"]), try agents.agent(setup, identity: "agent-1"),
            ]
            defer { running.forEach { $0.kill() } }
            let backup = try await setup.backup("db-1", plan: "db", namespace: "db")
            #expect(backup["status"]?["phase"] == "Completed", "\(backup.json.serializedString())")
            #expect(backup["status"]?["volumes"]?.arrayValue?.count == 2, "\(backup.json.serializedString())")

            // Both volumes lost, the claims and the pod deleted.
            var garbage = DeterministicBytes(seed: 666)
            let lost = Data(garbage.bytes(8 << 20))
            try lost.write(to: URL(fileURLWithPath: dataDevice))
            try lost.write(to: URL(fileURLWithPath: logsDevice))
            await cluster.server.delete(apiVersion: "v1", kind: "Pod", namespace: "db", name: "db-0")
            for claim in ["data", "logs"] {
                await cluster.server.delete(apiVersion: "v1", kind: "PersistentVolumeClaim", namespace: "db", name: claim)
            }

            // A patch that does not apply: Failed, naming the object and the operation; nothing restored.
            let failed = try await restore(
                setup, name: "bad",
                spec: """
                    {backup: db-1, transforms: {patches: [{match: {kind: PersistentVolumeClaim, name: logs}, \
                    patch: [{op: test, path: /spec/volumeMode, value: Filesystem}]}]}}
                    """)
            #expect(failed["status"]?["phase"] == "Failed", "\(failed.json.serializedString())")
            let error = failed["status"]?["errors"]?[0]?.stringValue ?? ""
            #expect(
                error.contains("does not apply to PersistentVolumeClaim db/logs: operation 0 (test /spec/volumeMode) failed"), "\(error)")
            #expect(await cluster.server.object(apiVersion: "v1", kind: "PersistentVolumeClaim", namespace: "db", name: "logs") == nil)

            // Only claim logs (labelled by a patch on the way), from the command line: only its
            // volume is written.
            let transforms = "\(cluster.directory)/transforms.yaml"
            try "patches: [{match: {kind: PersistentVolumeClaim}, patch: [{op: add, path: /metadata/labels/restored, value: \"yes\"}]}]"
                .write(toFile: transforms, atomically: true, encoding: .utf8)
            let command = try await FerryProcess(password: nil).run(
                [
                    "cluster", "restore", "--backup", "db-1", "-n", "db", "--name", "logs-only", "--component", "claim:logs",
                    "--transform-file", transforms, "--wait", "--kubeconfig", "\(cluster.directory)/kubeconfig",
                ])
            #expect(command.succeeded && command.stderr.contains("Completed"), "\(command)")
            let one = try await setup.finished("Restore", namespace: "db", name: "logs-only")
            #expect(
                one["spec"]?["include"] == ["components": [["kind": "PersistentVolumeClaim", "name": "logs"]]],
                "\(one.json.serializedString())")
            #expect(one["status"]?["phase"] == "Completed", "\(one.json.serializedString())")
            #expect(one["status"]?["volumesRestored"] == ["db/logs"], "\(one.json.serializedString())")
            #expect((one["status"]?["excluded"]?.intValue ?? 0) >= 2, "\(one.json.serializedString())")
            #expect(try agents.contents(logsDevice) == logs, "the selected claim's volume holds the backup again")
            #expect(try agents.contents(dataDevice) == lost, "the other volume is not written")
            let claim = await cluster.server.object(apiVersion: "v1", kind: "PersistentVolumeClaim", namespace: "db", name: "logs")
            #expect(claim?.labels["restored"] == "yes")
            #expect(await cluster.server.object(apiVersion: "v1", kind: "PersistentVolumeClaim", namespace: "db", name: "data") == nil)
            #expect(await cluster.server.object(apiVersion: "v1", kind: "Pod", namespace: "db", name: "db-0") == nil)
        }
    }
}
