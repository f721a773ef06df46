import FerryKube
import FerryMount
import FerryRepo
import FerryTestSupport
import Foundation
import Testing

/// An application snapshot's captured objects shown as YAML files.
@Suite("Captured objects as YAML")
struct ResourceFilesTests {
    static let objects: [(entry: (kind: String, apiVersion: String, resource: String, namespace: String?), json: String)] = [
        (("Namespace", "v1", "namespaces", nil), #"{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"shop"}}"#),
        (
            ("ConfigMap", "v1", "configmaps", "shop"),
            #"""
            {"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"settings","namespace":"shop","labels":{"app":"web"}},
             "data":{"enabled":"true","mode":"0755","since":"2024-01-01T00:00:00Z","empty":"","nothing":"null",
                     "script":"#!/bin/sh\necho \"hello: world\"\n","text":"ünïcode ✓","colon":"a: b","number":"12"}}
            """#
        ),
        (
            ("Deployment", "apps/v1", "deployments", "shop"),
            #"""
            {"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"web","namespace":"shop"},
             "spec":{"replicas":3,"paused":false,"ratio":0.25,"selector":{"matchLabels":{"app":"web"}},"template":{"spec":{"containers":[
               {"name":"web","image":"nginx:1.27","args":["--port","8080"],"env":[{"name":"X","value":null}]}]}}}}
            """#
        ),
    ]

    /// Stores the objects as `ferry app backup` does (a chunk each, a catalog page) and commits a snapshot.
    static func makeSnapshot(_ repository: Repository) async throws -> Snapshot {
        let session = try await repository.beginSession()
        var entries: [ResourceEntry] = []
        for (entry, json) in objects {
            let value = try JSONValue(parsing: json)
            let bytes = value.serialized()
            let id = try await session.storeMetadata(bytes)
            let name = value["metadata"]?["name"]?.stringValue ?? ""
            entries.append(
                ResourceEntry(
                    apiVersion: entry.apiVersion, kind: entry.kind, resource: entry.resource, namespaced: entry.namespace != nil,
                    namespace: entry.namespace, name: name, phase: "other", reasons: ["test"], object: id.hex, size: bytes.count))
        }
        let page = try await session.storeMetadata(try ResourceCatalogPage(entries: entries).encode())
        let resources = ResourceManifest(application: "Helm release web", scope: "namespace shop", count: entries.count, pages: [page])
        let manifest = SnapshotManifest(
            time: Date(), name: "helm:web@shop", hostname: "test", parent: nil, session: session.id,
            volumes: [], resources: resources)
        let (id, _) = try await session.commit(manifest)
        return try await repository.snapshot(id: id)
    }

    static func file(_ tree: MountTree, _ path: [String]) async throws -> [UInt8] {
        var node = tree.root
        for name in path {
            node = try #require(try await tree.directory(node).node(named: name), "no \(name) in \(path.joined(separator: "/"))")
        }
        guard case .file(let bytes) = node.content else { throw CocoaError(.fileReadUnknown) }
        return bytes
    }

    @Test func objectsReadBackAsTheSameJSON() async throws {
        let fixture = try await MountFixture()
        defer { fixture.remove() }
        let repository = try await fixture.open()
        let snapshot = try await Self.makeSnapshot(repository)
        let reopened = try await fixture.open()
        let fileSystem = SnapshotFileSystem(repository: reopened, snapshots: [snapshot], log: LogLines().log)
        let directory = ["ids", snapshot.id.short, "resources"]

        let paths = [
            ["_cluster", "namespaces", "shop.yaml"], ["shop", "configmaps", "settings.yaml"], ["shop", "deployments.apps", "web.yaml"],
        ]
        for (path, object) in zip(paths, Self.objects) {
            let yaml = String(decoding: try await Self.file(fileSystem.tree, directory + path), as: UTF8.self)
            #expect(try YAMLDocuments.parseSingle(yaml) == (try JSONValue(parsing: object.json)), "\(path): \(yaml)")
            #expect(yaml.hasPrefix("apiVersion: "), "\(yaml)")
        }
        let all = String(decoding: try await Self.file(fileSystem.tree, directory + ["all.yaml"]), as: UTF8.self)
        #expect(try YAMLDocuments.parse(all) == Self.objects.map { try JSONValue(parsing: $0.json) })
    }
}
