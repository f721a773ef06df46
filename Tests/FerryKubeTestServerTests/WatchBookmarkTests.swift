import FerryKube
import FerryKubeTestServer
import Foundation
import Testing

/// A watch that times out ends with a BOOKMARK of the current resourceVersion when the client
/// allowed bookmarks (as kube-apiserver's watch cache sends one before the timeout), after every
/// event of the watch: a client then resumes from there, however long its kind was quiet and
/// however much else changed meanwhile.
@Suite struct WatchBookmarkTests {
    func watch(_ client: KubeClient, from version: String, bookmarks: Bool) async throws -> [JSONValue] {
        var query = [("watch", "true"), ("resourceVersion", version), ("timeoutSeconds", "1")]
        if bookmarks { query.append(("allowWatchBookmarks", "true")) }
        let body = try await client.send("GET", "/api/v1/namespaces/default/configmaps", query: query).body
        return String(decoding: body, as: UTF8.self).split(separator: "\n").compactMap { try? JSONValue(parsing: String($0)) }
    }

    @Test func aTimedOutWatchEndsWithABookmarkOfTheCurrentVersionAfterItsEvents() async throws {
        try await withServer { server, client in
            let configMaps = try await client.resource(apiVersion: "v1", kind: "ConfigMap")
            let start = try await client.list(configMaps, namespace: "default").resourceVersion
            try await server.load(yaml: "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a, namespace: default}")
            // Other kinds change after it: the watch of ConfigMaps hears nothing of them.
            for index in 0..<5 {
                try await server.load(yaml: "apiVersion: v1\nkind: Secret\nmetadata: {name: s\(index), namespace: default}")
            }
            let latest = try await client.list(try await client.resource(apiVersion: "v1", kind: "Secret"), namespace: nil)
                .resourceVersion

            let events = try await watch(client, from: start, bookmarks: true)
            #expect(events.map { $0["type"]?.stringValue ?? "" } == ["ADDED", "BOOKMARK"], "\(events)")
            let bookmarked = events.last?["object"]?["metadata"]?["resourceVersion"]?.stringValue
            #expect(bookmarked == latest, "the bookmark carries the current resourceVersion, past the Secrets")

            let plain = try await watch(client, from: start, bookmarks: false)
            #expect(plain.map { $0["type"]?.stringValue ?? "" } == ["ADDED"], "no bookmark unless allowed: \(plain)")
        }
    }
}
