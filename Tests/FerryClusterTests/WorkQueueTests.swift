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

    /// Ends the watches; before the next one starts, unit `deleting` is deleted, unit `creating`
    /// created, and the history that says so compacted away (the next watch gets 410).
    func breakOffWatches(_ cluster: KubeTestCluster, deleting: String, creating: String) async {
        let created = unit(creating)
        _ = await cluster.server.addHook(
            .init(times: 1, matching: { $0.query["watch"] == "true" }) { _, server in
                _ = await server.delete(apiVersion: "ferry.dev/v1alpha1", kind: "VolumeTransfer", namespace: "db", name: deleting)
                _ = try? await server.load(yaml: created)
                await server.compactHistory()
                return .proceed
            })
        await cluster.server.endWatches()
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
            await breakOffWatches(cluster, deleting: "a", creating: "b")
            var after: [Heard] = []
            while let next = await events.next() {
                after.append(next)
                if next == .work("b") { break }
            }
            #expect(after.contains(.deleted("a")), "\(after)")
        }
    }

    /// 10,000 changes of other objects while the queue's kind is quiet push its last
    /// resourceVersion out of the watch history the server keeps (here 1,000 events). A watch
    /// that ends after a bookmark resumes from the bookmark: no list. One that ends before any
    /// (an API server restart) gets 410, lists once and watches on; it does not list in a loop,
    /// and it misses nothing.
    @Test func churnOfOtherObjectsNeitherMakesTheQueueRelistInALoopNorLoseWork() async throws {
        var options = KubeTestServer.Options()
        options.watchHistoryCapacity = 1_000
        try await withKubeTestCluster(options: options) { cluster in
            try await cluster.server.load(directory: CoordinatorTests.chartCRDs)
            try await cluster.server.load(yaml: CoordinatorTests.applicationNamespace("db"))
            try await cluster.server.load(yaml: unit("a"))
            let (heard, hear) = AsyncStream<String>.makeStream()
            let queue = Task {
                try await FerryClient(cluster.client).forEachWorkItem(VolumeTransfer.self, namespace: "db", where: { _ in true }) {
                    hear.yield($0.name)
                }
            }
            defer { queue.cancel() }
            var events = heard.makeAsyncIterator()
            #expect(await events.next() == "a")
            func churn(_ round: Int) async throws {
                let maps = (0..<5_000).map { "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c\(round)-\($0), namespace: churn}" }
                try await cluster.server.load(yaml: maps.joined(separator: "\n---\n"))
            }
            func requests(_ watch: Bool) async -> [KubeTestServer.RecordedRequest] {
                await cluster.server.requests().filter {
                    $0.path.hasSuffix("/volumetransfers") && ($0.query["watch"] == "true") == watch
                }
            }

            try await churn(1)
            try await churn(2)
            await cluster.server.emitBookmarks()
            await cluster.server.endWatches()
            try await cluster.server.load(yaml: unit("b"))
            #expect(await events.next() == "b")
            #expect(await requests(false).count == 1, "resumed from the bookmark without listing again")
            let resumed = await requests(true).last?.query["resourceVersion"].flatMap { UInt64($0) } ?? 0
            #expect(resumed > 10_000, "the watch resumed from the bookmark's resourceVersion, not unit a's")

            try await churn(3)
            try await churn(4)
            await cluster.server.endWatches()
            try await cluster.server.load(yaml: unit("c"))
            var after: [String] = []
            while let next = await events.next() {
                after.append(next)
                if next == "c" { break }
            }
            #expect(after.last == "c" && Set(after).isSubset(of: ["a", "b", "c"]), "\(after)")
            #expect(await requests(false).count == 2, "one list after the 410")
            let watches = await requests(true)
            #expect(watches.count <= 4, "\(watches.map(\.query))")
        }
    }
}
