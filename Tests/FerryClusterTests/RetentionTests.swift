import FerryKube
import FerryKubeTestServer
import FerryKubeTestSupport
import FerryTestSupport
import Foundation
import Testing

/// A plan's retention never costs the only copy of a volume's data: it runs only after a
/// Completed backup, and keeps the newest snapshot holding each volume whatever the policy says.
@Suite(.serialized, .timeLimit(.minutes(10))) struct RetentionTests {
    /// Two Block claims on node-1 (their devices are files here), used by one pod; a plan with
    /// `keepLast: 1`.
    func install(_ setup: CoordinatorTests.Setup, devices: [String]) async throws {
        var yaml = """
            apiVersion: v1
            kind: Namespace
            metadata: {name: app, labels: {pod-security.kubernetes.io/enforce: restricted}}
            ---
            apiVersion: v1
            kind: Pod
            metadata: {name: app-0, namespace: app, labels: {app: db}}
            spec:
              nodeName: node-1
              # Hardened for the namespace's restricted level: a Restore creates this pod through admission.
              securityContext: {runAsNonRoot: true, runAsUser: 999, seccompProfile: {type: RuntimeDefault}}
              containers:
              - name: db
                image: postgres
                securityContext: {allowPrivilegeEscalation: false, capabilities: {drop: [ALL]}}
                volumeDevices: [{name: data, devicePath: /dev/a}, {name: logs, devicePath: /dev/b}]
              volumes: [{name: data, persistentVolumeClaim: {claimName: data}}, {name: logs, persistentVolumeClaim: {claimName: logs}}]
            status: {phase: Running}
            """
        for (claim, device) in zip(["data", "logs"], devices) {
            yaml += """

                ---
                apiVersion: v1
                kind: PersistentVolume
                metadata: {name: pv-\(claim)}
                spec:
                  capacity: {storage: 2Mi}
                  volumeMode: Block
                  accessModes: [ReadWriteOnce]
                  local: {path: \(device)}
                  claimRef: {namespace: app, name: \(claim)}
                  nodeAffinity:
                    required:
                      nodeSelectorTerms: [{matchExpressions: [{key: kubernetes.io/hostname, operator: In, values: [node-1]}]}]
                ---
                apiVersion: v1
                kind: PersistentVolumeClaim
                metadata: {name: \(claim), namespace: app, labels: {app: db}}
                spec:
                  volumeMode: Block
                  accessModes: [ReadWriteOnce]
                  volumeName: pv-\(claim)
                  resources: {requests: {storage: 2Mi}}
                status: {phase: Bound, capacity: {storage: 2Mi}}
                """
        }
        try await setup.cluster.server.load(yaml: yaml)
        try await setup.target(in: "app")
        try await setup.cluster.server.load(
            yaml: """
                apiVersion: ferry.dev/v1alpha1
                kind: BackupPlan
                metadata: {name: db, namespace: app}
                spec: {target: local, components: {labelSelector: {matchLabels: {app: db}}}, retention: {keepLast: 1}}
                """)
    }

    @Test func aFailedVolumeKeepsItsLastGoodCopyUnderKeepLastOne() async throws {
        try await withKubeTestCluster { cluster in
            let setup = try await CoordinatorTests.Setup.make(cluster)
            let devices = ["data", "logs"].map { "\(cluster.directory)/\($0).img" }
            var random = DeterministicBytes(seed: 71)
            let logs = Data(random.bytes(2 << 20))
            for device in devices { try Data(random.bytes(2 << 20)).write(to: URL(fileURLWithPath: device)) }
            try logs.write(to: URL(fileURLWithPath: devices[1]))
            try await install(setup, devices: devices)
            let coordinator = try setup.coordinator(identity: "coordinator", ["--unit-lease", "3"])
            defer { coordinator.kill() }
            let agent = try setup.agent(identity: "agent-1")
            defer { agent.kill() }

            let first = try await setup.backup("db-1", plan: "db", namespace: "app")
            #expect(first["status"]?["phase"] == "Completed", "\(first.json.serializedString())")
            let good = try #require(first["status"]?["snapshot"]?.stringValue)

            // The logs volume's device is gone: its unit fails and the backup is partial.
            try FileManager.default.removeItem(atPath: devices[1])
            let second = try await setup.backup("db-2", plan: "db", namespace: "app")
            #expect(second["status"]?["phase"] == "PartiallyFailed", "\(second.json.serializedString())")

            let ferry = FerryProcess(password: "coordinator-test-password")
            let listing = try JSONValue(parsing: try await ferry.run(["snapshots", "--repo", setup.repository, "--json"]).stdout)
            #expect(
                listing.arrayValue?.contains { $0["id"]?.stringValue == good } == true,
                "the only snapshot holding app/logs is kept: \(listing)")
            let out = "\(cluster.directory)/logs-restored.img"
            let restore = try await ferry.run(["restore", good, out, "--volume", "app/logs", "--repo", setup.repository])
            #expect(restore.succeeded, "\(restore)")
            #expect(try Data(contentsOf: URL(fileURLWithPath: out)) == logs)
        }
    }
}
