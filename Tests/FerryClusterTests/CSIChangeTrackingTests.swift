import FerryCSITestSupport
import FerryKube
import FerryKubeTestSupport
import FerryTestSupport
import Foundation
import GRPCCore
import Testing

extension AgentTests {
    /// A CSI driver with a SnapshotMetadata service (KEP-3314): the first backup reads what the
    /// service reports allocated, the next only the blocks it reports changed since the snapshot
    /// the first read, which the coordinator kept as the base (and deletes once replaced). The
    /// agent authenticates with a token of its own ServiceAccount for the service's audience,
    /// which the service checks against the API server as the real sidecar does.
    @Test func aCSIVolumesIncrementalReadsOnlyWhatTheDriverReportsChanged() async throws {
        try await withKubeTestCluster { cluster in
            let setup = try await CoordinatorTests.Setup.make(cluster)
            let live = "\(cluster.directory)/csi-h1.img"
            _ = try writeDevice(live, seed: 96)
            let hostRoot = "\(cluster.directory)/host"
            try await installCSIVolume(setup)
            let audience = "ferry-test-audience"
            let server = cluster.server
            let service = LoopSnapshotMetadataServer(snapshots: [], blockSize: Int64(Self.blockSize)) { token, namespace in
                guard let review = await server.reviewToken(token), review.audiences.contains(audience) else {
                    return RPCError(code: .unauthenticated, message: "invalid security token")
                }
                guard review.user == "system:serviceaccount:ferry:ferry-agent", namespace == "db" else {
                    return RPCError(code: .permissionDenied, message: "\(review.user) may not read snapshots in \(namespace)")
                }
                return nil
            }
            let certificates = try TestCertificates.make()
            try await withSnapshotMetadataServer(service, certificates: certificates) { endpoint in
                _ = try await cluster.load("csi/snapshot-metadata/cbt.storage.k8s.io_snapshotmetadataservices.yaml")
                _ = try await cluster.load("csi/snapshot-metadata/snapshotmetadataservice.yaml") { sms in
                    sms.setValue(.string("localhost:\(endpoint.port)"), at: ["spec", "address"])
                    sms.setValue(.string(Data(certificates.caPEM.utf8).base64EncodedString()), at: ["spec", "caCert"])
                    sms.setValue(.string(audience), at: ["spec", "audience"])
                }
                let run = try runCSI(setup, live: live, hostRoot: hostRoot, agentArguments: ["--service-account", "ferry/ferry-agent"]) {
                    name, handle, path in
                    service.control.add(.init(name: name, handle: handle, device: path))
                }
                defer { run.stop() }

                let first = try await setup.backup("db-1", plan: "db", namespace: "db")
                #expect(first["status"]?["phase"] == "Completed", "\(first.json.serializedString())")
                let firstUnit = try #require(
                    await cluster.server.object(apiVersion: "ferry.dev/v1alpha1", kind: "VolumeTransfer", namespace: "db", name: "db-1-0"))
                #expect(
                    firstUnit["spec"]?["csi"]?["snapshotHandle"] == "handle-ferry-db-1-0"
                        && firstUnit["spec"]?["csi"]?["audience"] == .string(audience))
                #expect(firstUnit["status"]?["result"]?["changeTracking"]?["provider"] == "csi", "\(firstUnit.json.serializedString())")
                #expect(service.control.seen.withLock { $0 }.contains { $0.method == "allocated" && $0.target == "ferry-db-1-0" })
                #expect(await snapshotNames(cluster) == ["ferry-db-1-0"], "the snapshot read is kept as the next delta's base")
                #expect(
                    await cluster.server.object(apiVersion: "v1", kind: "PersistentVolumeClaim", namespace: "db", name: "ferry-db-1-0")
                        == nil)

                // The application writes into block 3 (the snapshotter's own write went to block 0).
                try write(Data(repeating: 0x5A, count: 1000), at: UInt64(3 << 20) + 77, to: live)
                let second = try await setup.backup("db-2", plan: "db", namespace: "db")
                #expect(second["status"]?["phase"] == "Completed", "\(second.json.serializedString())")
                let secondUnit = try #require(
                    await cluster.server.object(apiVersion: "ferry.dev/v1alpha1", kind: "VolumeTransfer", namespace: "db", name: "db-2-0"))
                let result = secondUnit["status"]?["result"]
                #expect(result?["changeTracking"]?["provider"] == "csi", "\(secondUnit.json.serializedString())")
                #expect(result?["changeTracking"]?["bookmark"]?["snapshotHandle"] == "handle-ferry-db-2-0")
                #expect(
                    result?["stats"]?["bytesRead"] == .int(2 << 20), "blocks 0 and 3 only: \(result?["stats"]?.serializedString() ?? "")")
                #expect(
                    service.control.seen.withLock { $0 }.contains {
                        $0.method == "delta" && $0.base == "handle-ferry-db-1-0" && $0.target == "ferry-db-2-0"
                    })
                #expect(await snapshotNames(cluster) == ["ferry-db-2-0"], "the earlier base is replaced")
                let base = await cluster.server.object(
                    apiVersion: "snapshot.storage.k8s.io/v1", kind: "VolumeSnapshot", namespace: "db", name: "ferry-db-2-0")
                #expect(base?["metadata"]?["ownerReferences"]?[0]?["kind"] == "BackupPlan", "the base goes with its plan")
                let snapshot = try #require(second["status"]?["snapshot"]?.stringValue)
                #expect(
                    try await restoredVolume(setup, snapshot: snapshot) == Data(contentsOf: URL(fileURLWithPath: "\(live).ferry-db-2-0")))
            }
        }
    }

    func snapshotNames(_ cluster: KubeTestCluster) async -> [String] {
        await cluster.server.objects(apiVersion: "snapshot.storage.k8s.io/v1", kind: "VolumeSnapshot", namespace: "db").map(\.name).sorted()
    }
}
