import FerryKube
import FerryKubeTestServer
import FerryKubeTestSupport
import FerryTestSupport
import Foundation
import Synchronization
import Testing

extension AgentTests {
    /// An ext4 image holding files, as a file system on a CSI volume.
    func writeFileSystem(_ path: String, in cluster: KubeTestCluster) throws {
        try TestEnvironment.requireTool("mkfs.ext4")
        let files = "\(cluster.directory)/files"
        try FileManager.default.createDirectory(atPath: "\(files)/conf", withIntermediateDirectories: true)
        try "hello from the volume\n".write(toFile: "\(files)/hello.txt", atomically: true, encoding: .utf8)
        var random = DeterministicBytes(seed: 97)
        try Data(random.bytes(3 << 20)).write(to: URL(fileURLWithPath: "\(files)/conf/blob.bin"))
        try ChildProcess.run(["mkfs.ext4", "-F", "-q", "-b", "4096", "-d", files, path, "8M"])
    }

    /// A file in an ext4 image, copied out with debugfs (no mount needed).
    func file(_ name: String, inFileSystem image: String) throws -> String {
        try TestEnvironment.requireTool("debugfs")
        let out = "\(image).\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: out) }
        try ChildProcess.run(["debugfs", "-R", "dump \(name) \(out)", image])
        return try String(contentsOfFile: out, encoding: .utf8).trimmingCharacters(in: .newlines)
    }

    /// An ext4 file system on a Filesystem-mode CSI volume (`live`), with the CSI controllers,
    /// the coordinator and an agent running.
    func filesystemVolume(_ cluster: KubeTestCluster) async throws -> (CoordinatorTests.Setup, live: String, CSIRun) {
        let setup = try await CoordinatorTests.Setup.make(cluster)
        let live = "\(cluster.directory)/csi-h1.img"
        try writeFileSystem(live, in: cluster)
        try await installCSIVolume(setup, mode: "Filesystem")
        return (setup, live, try runCSI(setup, live: live, hostRoot: "\(cluster.directory)/host"))
    }

    /// A Filesystem-mode CSI volume is read as the block device under its file system: the
    /// coordinator lets its snapshot's content change volume mode (the snapshot controller
    /// refuses a Block claim from a Filesystem snapshot otherwise; the test's provisioner too)
    /// and exposes it in Block mode; the backup holds the file system whole. Restored into a new
    /// claim, the image is written into a temporary Block claim, which is snapshotted, and the
    /// claim is created from that snapshot: it holds the file system before any workload runs.
    @Test func aFilesystemVolumeIsReadAsTheBlockDeviceUnderItsFileSystem() async throws {
        try await withKubeTestCluster { cluster in
            let (setup, live, run) = try await filesystemVolume(cluster)
            defer { run.stop() }

            let backup = try await setup.backup("db-1", plan: "db", namespace: "db")
            #expect(backup["status"]?["phase"] == "Completed", "\(backup.json.serializedString())")
            let unit = try #require(
                await cluster.server.object(apiVersion: "ferry.dev/v1alpha1", kind: "VolumeTransfer", namespace: "db", name: "db-1-0"))
            #expect(
                unit["spec"]?["source"]?["path"]?.stringValue?.contains("/volumeDevices/kubernetes.io~csi/") == true,
                "read as a block device")
            let content = await cluster.server.object(
                apiVersion: "snapshot.storage.k8s.io/v1", kind: "VolumeSnapshotContent", name: "content-ferry-db-1-0")
            #expect(content?.annotations["snapshot.storage.kubernetes.io/allow-volume-mode-change"] == "true")

            let snapshot = try #require(backup["status"]?["snapshot"]?.stringValue)
            let restored = try await restoredVolume(setup, snapshot: snapshot)
            #expect(restored == (try Data(contentsOf: URL(fileURLWithPath: "\(live).ferry-db-1-0"))), "the snapshot's blocks, whole")
            let image = "\(cluster.directory)/restored.img"
            #expect(try file("/hello.txt", inFileSystem: image) == "hello from the volume")
            try ChildProcess.run(["e2fsck", "-fn", image])

            // The claim and its volume are lost; the Restore provisions a new one holding the data.
            await cluster.server.delete(apiVersion: "v1", kind: "PersistentVolumeClaim", namespace: "db", name: "data")
            await cluster.server.delete(apiVersion: "v1", kind: "PersistentVolume", name: "pv-csi")
            try await cluster.server.load(
                yaml: "apiVersion: ferry.dev/v1alpha1\nkind: Restore\nmetadata: {name: back, namespace: db}\nspec: {backup: db-1}")
            let restore = try await setup.finished("Restore", namespace: "db", name: "back")
            #expect(
                restore["status"]?["phase"] == "Completed" && restore["status"]?["volumesRestored"] == ["db/data"],
                "\(restore.json.serializedString())")
            let claim = try #require(
                await cluster.server.object(apiVersion: "v1", kind: "PersistentVolumeClaim", namespace: "db", name: "data"))
            #expect(claim["spec"]?["volumeMode"] == "Filesystem" && claim["spec"]?["dataSource"]?["kind"] == "VolumeSnapshot")
            let volume = try await csiVolumeFile(cluster, claim: "data", live: live)
            #expect(try Data(contentsOf: URL(fileURLWithPath: volume)) == restored, "the new volume holds the backed-up file system")
            #expect(try file("/hello.txt", inFileSystem: volume) == "hello from the volume")
            // Nothing temporary is left: the Block claim, its pod and the snapshot are gone.
            #expect(await snapshotNames(cluster).isEmpty)
            #expect(await cluster.server.objects(apiVersion: "v1", kind: "PersistentVolumeClaim", namespace: "db").map(\.name) == ["data"])
            #expect(
                await cluster.server.objects(apiVersion: "v1", kind: "Pod", namespace: "db").filter { $0.name.hasPrefix("ferry-") }.isEmpty)
        }
    }
}

extension AgentTests {
    /// The seeded snapshot a restored Filesystem claim is provisioned from is deleted only once
    /// the claim is bound: a GET of the claim that fails (500) is not "bound". The provisioner's
    /// binding is held until the coordinator has acted on that failed read (read the claim again,
    /// or deleted the snapshot), so the old reading (a failed GET counts as bound) deletes the
    /// snapshot under an unbound claim every time.
    @Test func aSeededSnapshotOutlivesAnUnreadableClaim() async throws {
        try await withKubeTestCluster { cluster in
            let (setup, live, run) = try await filesystemVolume(cluster)
            defer { run.stop() }
            let backup = try await setup.backup("db-1", plan: "db", namespace: "db")
            #expect(backup["status"]?["phase"] == "Completed", "\(backup.json.serializedString())")
            await cluster.server.delete(apiVersion: "v1", kind: "PersistentVolumeClaim", namespace: "db", name: "data")
            await cluster.server.delete(apiVersion: "v1", kind: "PersistentVolume", name: "pv-csi")

            let claimPath = "/api/v1/namespaces/db/persistentvolumeclaims/data"
            @Sendable func claimIsBound(_ server: KubeTestServer) async -> Bool? {
                guard let claim = await server.object(apiVersion: "v1", kind: "PersistentVolumeClaim", namespace: "db", name: "data") else {
                    return nil
                }
                return !(claim["spec"]?["volumeName"]?.stringValue?.isEmpty ?? true)
            }
            let (actedOn, signal) = AsyncStream<Void>.makeStream()
            // Reads of the created, unbound claim fail for longer than the client retries (one
            // read and five retries); the next read is the coordinator acting on that failure by
            // waiting for the claim.
            let outage = 6
            let failures = Mutex(0)
            _ = await cluster.server.addHook(
                .init(times: nil, matching: { $0.method == "GET" && $0.path == claimPath }) { _, server in
                    guard await claimIsBound(server) == false else { return .proceed }
                    if failures.withLock({ count in
                        defer { count += 1 }; return count < outage
                    }) {
                        return .respond(status: 500, reason: "InternalError", message: "etcdserver: request timed out")
                    }
                    signal.yield()
                    return .proceed
                })
            // Or acting on it by deleting the snapshot (seen here while the claim is unbound).
            let deletedWhileUnbound = Mutex<[String]>([])
            _ = await cluster.server.addHook(
                .init(
                    times: nil,
                    matching: {
                        $0.method == "DELETE" && $0.path.hasPrefix("/apis/snapshot.storage.k8s.io/v1/namespaces/db/volumesnapshots/")
                            && $0.path.contains("-seed-")
                    }
                ) { request, server in
                    if await claimIsBound(server) != true { deletedWhileUnbound.withLock { $0.append(request.path) } }
                    signal.yield()
                    return .proceed
                })
            // The provisioner binds the claim only after that.
            _ = await cluster.server.addHook(
                .init(times: 1, matching: { $0.method == "PUT" && $0.path == claimPath }) { _, _ in
                    for await _ in actedOn { break }
                    return .proceed
                })

            try await cluster.server.load(
                yaml: "apiVersion: ferry.dev/v1alpha1\nkind: Restore\nmetadata: {name: back, namespace: db}\nspec: {backup: db-1}")
            let restore = try await setup.finished("Restore", namespace: "db", name: "back")
            #expect(
                restore["status"]?["phase"] == "Completed" && restore["status"]?["volumesRestored"] == ["db/data"],
                "\(restore.json.serializedString())")
            #expect(failures.withLock { $0 } > outage, "the claim could not be read, then could")
            let log = await cluster.server.requests().filter {
                $0.path.contains("persistentvolumeclaims/data") || $0.path.contains("-seed-")
            }.map { "\($0.method) \($0.path) \($0.status)" }
            #expect(deletedWhileUnbound.withLock { $0 }.isEmpty, "no seeded snapshot is deleted under an unbound claim: \(log)")
            #expect(await snapshotNames(cluster).isEmpty, "the seeded snapshot goes once the claim is bound")
            #expect(
                try file("/hello.txt", inFileSystem: try await csiVolumeFile(cluster, claim: "data", live: live)) == "hello from the volume"
            )
        }
    }
}
