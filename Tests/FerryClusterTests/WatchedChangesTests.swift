import FerryAPI
import FerryKube
import FerryKubeTestServer
import FerryKubeTestSupport
import Foundation
import Testing

/// What the coordinator follows units by: each change handed over once, and a deletion heard of
/// even when its DELETED event was lost with a broken-off watch (the relist no longer has it).
@Suite(.serialized, .timeLimit(.minutes(5))) struct WatchedChangesTests {
    @Test func eachChangeIsTakenOnceAndARelistReportsWhatWentMissing() async throws {
        try await withKubeTestCluster { cluster in
            try await cluster.server.load(directory: CoordinatorTests.chartCRDs)
            try await cluster.server.load(yaml: CoordinatorTests.applicationNamespace("db"))
            let queue = WorkQueueTests()
            try await cluster.server.load(yaml: queue.unit("a") + "\n---\n" + queue.unit("c"))
            let watched = WatchedChanges<VolumeTransfer>(compact: true)
            let ferry = FerryClient(cluster.client)
            let maintaining = Task { try await ferry.maintain(watched, namespace: "db", labelSelector: nil) }
            defer { maintaining.cancel() }
            // Takes until `enough` holds of all taken together (each take gives only what is new).
            typealias Changes = WatchedChanges<VolumeTransfer>.Changes
            func take(until enough: (Changes) -> Bool) async throws -> Changes {
                var all = Changes()
                for _ in 0..<400 where !enough(all) {
                    if let changes = watched.take() {
                        all.changed.merge(changes.changed) { _, new in new }
                        all.deleted.formUnion(changes.deleted)
                    }
                    if !enough(all) { try await Task.sleep(for: .milliseconds(25)) }
                }
                return all
            }

            let first = try await take { $0.changed.count == 2 }
            #expect(Set(first.changed.keys) == ["a", "c"] && first.deleted.isEmpty)
            // Kept compacted: identity and typed spec, not the object as read.
            #expect(first.changed["a"]?.spec.volume == "db/data" && first.changed["a"]?.object["spec"] == nil)
            #expect(watched.take().map { $0.changed.isEmpty && $0.deleted.isEmpty } == true, "nothing new: nothing taken")

            let units = try await cluster.client.resource(apiVersion: "ferry.dev/v1alpha1", kind: "VolumeTransfer")
            _ = try await cluster.client.patch(
                units, namespace: "db", name: "c", type: .merge, patch: ["metadata": ["labels": ["touched": "yes"]]])
            let touched = try await take { !$0.changed.isEmpty }
            #expect(Set(touched.changed.keys) == ["c"] && touched.deleted.isEmpty)

            // The watch breaks off; meanwhile "a" goes and "b" comes, and the history that said so
            // too (410): the relist hands over "b" and "c" as changed and "a" as deleted.
            await queue.breakOffWatches(cluster, deleting: "a", creating: "b")
            let relisted = try await take { $0.deleted.contains("a") && $0.changed["b"] != nil }
            #expect(relisted.deleted == ["a"] && relisted.changed["a"] == nil, "\(relisted.deleted)")
            #expect(relisted.changed["b"]?.spec.node == "node-1")
        }
    }
}
