import FerryAPI
import FerryKube
import FerryKubeTestServer
import FerryKubeTestSupport
import Foundation
import Testing

/// A work queue hears of every deletion, even one whose DELETED event it missed: an agent must
/// stop a unit (a restore writing over a volume) whose Backup or Restore was deleted while its
/// watch was broken off.
@Suite(.serialized, .timeLimit(.minutes(5))) struct WorkQueueTests {
    func unit(_ name: String) -> String {
        """
        apiVersion: ferry.dev/v1alpha1
        kind: VolumeTransfer
        metadata: {name: \(name), namespace: db}
        spec: {owner: r, target: local, node: node-1, volume: db/data, source: {path: /dev/x}}
        """
    }

    @Test func aUnitDeletedWhileTheWatchWasBrokenOffIsReportedDeleted() async throws {
        try await withKubeTestCluster { cluster in
            try await cluster.server.load(directory: CoordinatorTests.chartCRDs)
            try await cluster.server.load(yaml: CoordinatorTests.applicationNamespace("db"))
            try await cluster.server.load(yaml: unit("a"))
            enum Heard: Equatable { case work(String), deleted(String) }
            let (heard, hear) = AsyncStream<Heard>.makeStream()
            let queue = Task {
                try await FerryClient(cluster.client).forEachWorkItem(
                    VolumeTransfer.self, namespace: "db", where: { _ in true },
                    deleted: { hear.yield(.deleted($0.name)) }
                ) { hear.yield(.work($0.name)) }
            }
            defer { queue.cancel() }
            var events = heard.makeAsyncIterator()
            #expect(await events.next() == .work("a"))

            // When the queue watches again, "a" is gone and the history that said so too (410):
            // the queue relists and finds "b" but no "a".
            let unitB = unit("b")
            _ = await cluster.server.addHook(
                .init(times: 1, matching: { $0.query["watch"] == "true" }) { _, server in
                    _ = await server.delete(apiVersion: "ferry.dev/v1alpha1", kind: "VolumeTransfer", namespace: "db", name: "a")
                    _ = try? await server.load(yaml: unitB)
                    await server.compactHistory()
                    return .proceed
                })
            await cluster.server.endWatches()
            var after: [Heard] = []
            while let next = await events.next() {
                after.append(next)
                if next == .work("b") { break }
            }
            #expect(after.contains(.deleted("a")), "\(after)")
        }
    }
}
