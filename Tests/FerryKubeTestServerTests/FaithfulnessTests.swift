import FerryKube
import FerryKubeTestServer
import Foundation
import Testing

/// The test server's answers checked against payloads recorded from real API servers.
@Suite struct FaithfulnessTests {
    @Test func aggregatedDiscoveryMatchesTheRecordedDocument() async throws {
        let recorded = try Fixtures.json("discovery/aggregated_v2.json")
        try await withServer { _, client in
            let response = try await client.send(
                "GET", "/apis", accept: "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json")
            #expect(response.headers["Content-Type"] == "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList")
            let served = try JSONValue(parsing: response.body)
            #expect(served["kind"] == recorded["kind"] && served["apiVersion"] == recorded["apiVersion"])
            func index(_ document: JSONValue) -> [String: JSONValue] {
                var result: [String: JSONValue] = [:]
                for group in document["items"]?.arrayValue ?? [] {
                    for version in group["versions"]?.arrayValue ?? [] {
                        for resource in version["resources"]?.arrayValue ?? [] {
                            let key =
                                "\(group["metadata"]?["name"]?.stringValue ?? "")/"
                                + "\(version["version"]!.stringValue!)/\(resource["resource"]!.stringValue!)"
                            result[key] = resource
                        }
                    }
                }
                return result
            }
            let expected = index(recorded)
            let actual = index(served)
            #expect(Set(expected.keys) == Set(actual.keys))
            for (key, resource) in expected {
                let mine = try #require(actual[key])
                #expect(mine["scope"] == resource["scope"], "\(key)")
                #expect(mine["responseKind"]?["kind"] == resource["responseKind"]?["kind"], "\(key)")
                #expect(Set(mine["verbs"]?.arrayValue ?? []) == Set(resource["verbs"]?.arrayValue ?? []), "\(key)")
                #expect(Set(mine["shortNames"]?.arrayValue ?? []) == Set(resource["shortNames"]?.arrayValue ?? []), "\(key)")
                let subresources = { (r: JSONValue) in Set((r["subresources"]?.arrayValue ?? []).compactMap { $0["subresource"] }) }
                #expect(subresources(mine) == subresources(resource), "\(key)")
            }
            // Version order (preference) per group is the recorded one.
            let order = { (d: JSONValue) in
                (d["items"]?.arrayValue ?? []).map { g in (g["versions"]?.arrayValue ?? []).map { $0["version"]! } }
            }
            #expect(order(served) == order(recorded))
        }
    }

    @Test func legacyCoreDiscoveryMatchesTheRecordedDocument() async throws {
        let recorded = try Fixtures.json("discovery/api__v1.json")
        try await withServer { _, client in
            let (status, served) = await raw(client, "GET", "/api/v1")
            #expect(status == 200)
            func index(_ d: JSONValue?) -> [String: JSONValue] {
                Dictionary(uniqueKeysWithValues: (d?["resources"]?.arrayValue ?? []).map { ($0["name"]!.stringValue!, $0) })
            }
            let expected = index(recorded)
            let actual = index(served)
            #expect(Set(expected.keys) == Set(actual.keys))
            for (name, resource) in expected {
                #expect(actual[name]?["namespaced"] == resource["namespaced"], "\(name)")
                // Subresource kinds (Binding, Eviction, TokenRequest...) are not modelled.
                if !name.contains("/") {
                    #expect(actual[name]?["kind"] == resource["kind"], "\(name)")
                    #expect(Set(actual[name]?["verbs"]?.arrayValue ?? []) == Set(resource["verbs"]?.arrayValue ?? []), "\(name)")
                }
            }
            let (_, versions) = await raw(client, "GET", "/api")
            #expect(versions?["kind"] == "APIVersions" && versions?["versions"] == ["v1"])
            let (_, apps) = await raw(client, "GET", "/apis/apps")
            let recordedApps = try Fixtures.json("discovery/apis__apps.json")
            #expect(apps?["preferredVersion"] == recordedApps["preferredVersion"])
            #expect(apps?["name"] == recordedApps["name"])
        }
    }

    @Test func statusBodiesHaveTheRecordedShape() async throws {
        let notFound = try Fixtures.json("objects/kubeclient-recorded/bindings_list.json")
        let conflict = try Fixtures.json("objects/kubeclient-recorded/namespace_already_exists.json")
        try await withServer { _, client in
            let (code404, missingPath) = await raw(client, "GET", "/api/v1/bindingz")
            #expect(code404 == 404)
            #expect(missingPath?["message"] == notFound["message"] && missingPath?["reason"] == notFound["reason"])
            let servedKeys = keys(missingPath)
            #expect(servedKeys.isSuperset(of: keys(notFound).subtracting(["details"])))
            let namespace = Array(#"{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"default"}}"#.utf8)
            let (code409, exists) = await raw(client, "POST", "/api/v1/namespaces", body: namespace)
            #expect(code409 == 409)
            #expect(exists?["reason"] == conflict["reason"] && exists?["code"] == conflict["code"])
            let detailKeys = keys(exists?["details"])
            #expect(detailKeys == keys(conflict["details"]))
            #expect(exists?["details"]?["kind"] == conflict["details"]?["kind"])
            #expect(exists?["message"] == #"namespaces "default" already exists"#)
        }
    }

    /// etcd refuses a value above 1.5 MiB and kube-apiserver passes that on as a 500 without a
    /// reason; an object just under the limit is stored.
    @Test func objectsAboveEtcdsLimitAreRefused() async throws {
        try await withServer { _, client in
            func configMap(_ name: String, bytes: Int) -> [UInt8] {
                Array(
                    (#"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"\#(name)","namespace":"default"},"#
                        + #""data":{"x":"\#(String(repeating: "a", count: bytes))"}}"#)
                        .utf8)
            }
            let (tooLarge, status) = await raw(
                client, "POST", "/api/v1/namespaces/default/configmaps", body: configMap("big", bytes: 1_600_000))
            #expect(tooLarge == 500)
            #expect(status?["message"] == "etcdserver: request is too large" && status?["reason"] == nil, "\(String(describing: status))")
            let (created, _) = await raw(client, "POST", "/api/v1/namespaces/default/configmaps", body: configMap("fits", bytes: 1_500_000))
            #expect(created == 201)
        }
    }

    @Test func listsAndPagesHaveTheRecordedShape() async throws {
        let page1 = try Fixtures.json("objects/kubeclient-recorded/pods_1.json")
        let expired = try Fixtures.json("objects/kubeclient-recorded/pods_410.json")
        let pods = try Fixtures.json("objects/kubeclient-recorded/pod_list.json")
        try await withServer { server, client in
            // Load the recorded pods themselves, then page through them.
            // Recorded list documents (their items carry no kind) load as the objects they list.
            let loaded = try await server.load([pods, page1])
            #expect(loaded.map(\.kind) == ["Pod", "Pod", "Pod"])
            let (_, served) = await raw(client, "GET", "/api/v1/pods", query: [("limit", "1")])
            #expect(served?["kind"] == page1["kind"] && served?["apiVersion"] == page1["apiVersion"])
            let servedKeys = keys(served?["metadata"])
            #expect(servedKeys.isSuperset(of: keys(page1["metadata"]).subtracting(["selfLink"])))
            #expect(served?["items"]?.arrayValue?.count == 1)
            let token = try #require(served?["metadata"]?["continue"]?.stringValue)
            _ = try await client.create(
                try await client.resource(apiVersion: "v1", kind: "ConfigMap"),
                KubeObject(apiVersion: "v1", kind: "ConfigMap", namespace: "default", name: "bump"))
            await server.compactHistory()
            let (code, gone) = await raw(client, "GET", "/api/v1/pods", query: [("limit", "1"), ("continue", token)])
            #expect(code == 410)
            #expect(gone?["reason"] == expired["reason"] && gone?["code"] == expired["code"])
            #expect(gone?["message"]?.stringValue?.hasPrefix("The provided continue parameter is too old") == true)
        }
    }

    @Test func watchEventsHaveTheRecordedShape() async throws {
        let lines = try Fixtures.text("objects/kubeclient-recorded/watch_stream.json").split(separator: "\n")
        let recorded = try lines.map { try JSONValue(parsing: String($0)) }
        #expect(recorded.map { $0["type"]!.stringValue! } == ["ADDED", "MODIFIED", "DELETED"])
        try await withServer { server, client in
            let pods = try await client.resource(apiVersion: "v1", kind: "Pod")
            let start = try await client.list(pods, namespace: "default").resourceVersion
            var iterator = client.watch(pods, namespace: "default", resourceVersion: start).makeAsyncIterator()
            // Replay the recorded object through the API: create, modify, delete.
            var pod = KubeObject(recorded[0]["object"]!)
            pod.json.setValue(nil, at: ["metadata", "resourceVersion"])
            pod.namespace = "default"
            _ = try await client.create(pods, pod)
            _ = try await client.patch(
                pods, namespace: "default", name: pod.name, type: .merge, patch: ["metadata": ["labels": ["x": "y"]]])
            try await client.delete(pods, namespace: "default", name: pod.name)
            var types: [String] = []
            for _ in 0..<3 {
                switch try await iterator.next() {
                case .added?: types.append("ADDED")
                case .modified?: types.append("MODIFIED")
                case .deleted?: types.append("DELETED")
                default: types.append("?")
                }
            }
            #expect(types == recorded.map { $0["type"]!.stringValue! })
            _ = server
        }
    }
}

/// Custom resources are pruned to their CRD's structural schema on every write, as
/// kube-apiserver does: an unknown field (a typo, or a status field the CRD forgot) vanishes.
@Suite struct StructuralPruningTests {
    @Test func unknownFieldsArePrunedUnlessPreserved() async throws {
        try await withServer { server, client in
            try await server.load(
                yaml: """
                    apiVersion: apiextensions.k8s.io/v1
                    kind: CustomResourceDefinition
                    metadata: {name: widgets.example.com}
                    spec:
                      group: example.com
                      scope: Namespaced
                      names: {kind: Widget, plural: widgets, singular: widget, listKind: WidgetList}
                      versions:
                        - name: v1
                          served: true
                          storage: true
                          subresources: {status: {}}
                          schema:
                            openAPIV3Schema:
                              type: object
                              properties:
                                spec:
                                  type: object
                                  properties:
                                    size: {type: integer}
                                    labels: {type: object, additionalProperties: {type: string}}
                                    parts: {type: array, items: {type: object, properties: {name: {type: string}}}}
                                    free: {type: object, x-kubernetes-preserve-unknown-fields: true}
                                status:
                                  type: object
                                  properties:
                                    phase: {type: string}
                    """)
            let widgets = try await client.resource(apiVersion: "example.com/v1", kind: "Widget")
            var widget = KubeObject(apiVersion: "example.com/v1", kind: "Widget", namespace: "default", name: "w")
            widget.json["spec"] = [
                "size": 3, "colour": "red", "labels": ["a": "b"], "parts": [["name": "x", "weight": 2]], "free": ["any": ["thing": 1]],
            ]
            widget.json["extra"] = "dropped"
            let created = try await client.create(widgets, widget)
            #expect(created["spec"] == ["size": 3, "labels": ["a": "b"], "parts": [["name": "x"]], "free": ["any": ["thing": 1]]])
            #expect(created["extra"] == nil && created.metadata["name"] == "w")

            var status = created
            status.json["status"] = ["phase": "Ready", "progress": 50]
            let updated = try await client.updateStatus(widgets, status)
            #expect(updated["status"] == ["phase": "Ready"])
        }
    }
}
