import FerryKube
import FerryKubeTestServer
import FerryTestSupport
import Foundation
import Testing

@Suite struct KubeClientTests {
    @Test func discoveryAggregatedAndLegacyAgree() async throws {
        var legacy = KubeTestServer.Options()
        legacy.aggregatedDiscovery = false
        let aggregated = try await withCluster { try await $0.client.resourceCatalog() }
        let (fallback, requests) = try await withCluster(options: legacy) { cluster in
            (try await cluster.client.resourceCatalog(), await cluster.server.requests())
        }
        func key(_ r: APIResource) -> String {
            "\(r.group)/\(r.version)/\(r.name) \(r.kind) \(r.namespaced) \(r.verbs.sorted()) \(r.subresources.sorted())"
        }
        #expect(Set(aggregated.resources.map(key)) == Set(fallback.resources.map(key)))
        #expect(aggregated.preferredVersions == fallback.preferredVersions)
        // Legacy discovery costs one request per group version.
        #expect(requests.count > 30)
        #expect(requests.contains { $0.path == "/apis/apps/v1" })
    }

    @Test func crdsAppearInDiscovery() async throws {
        try await withCluster { cluster in
            await #expect(throws: KubeError.self) { try await cluster.resource("cache.example.com/v1alpha1", "Memcached") }
            let crds = try await cluster.resource("apiextensions.k8s.io/v1", "CustomResourceDefinition")
            let crd = try YAMLDocuments.parseSingle(
                try Fixtures.text("operators/memcached-operator/config/crd/bases/cache.example.com_memcacheds.yaml"))
            let created = try await cluster.client.create(crds, KubeObject(crd))
            #expect(
                created["status"]?["conditions"]?.arrayValue?.contains { $0["type"] == "Established" && $0["status"] == "True" } == true)
            // Unknown kinds trigger one rediscovery.
            let memcacheds = try await cluster.resource("cache.example.com/v1alpha1", "Memcached")
            #expect(memcacheds.namespaced && memcacheds.hasStatus)
            let sample = try YAMLDocuments.parseSingle(
                try Fixtures.text("operators/memcached-operator/config/samples/cache_v1alpha1_memcached.yaml"))
            _ = try await cluster.client.create(memcacheds, KubeObject(sample), namespace: "default")
            #expect(try await cluster.client.list(memcacheds, namespace: "default").items.map(\.name) == ["memcached-sample"])
            // Deleting the CRD removes the resource and its objects.
            try await cluster.client.delete(crds, namespace: nil, name: crd["metadata"]!["name"]!.stringValue!)
            let catalog = try await cluster.client.resourceCatalog(refresh: true)
            #expect(catalog.resource(apiVersion: "cache.example.com/v1alpha1", kind: "Memcached") == nil)
        }
    }

    @Test func crudWithOptimisticConcurrency() async throws {
        try await withCluster { cluster in
            let configMaps = try await cluster.resource("v1", "ConfigMap")
            let created = try await cluster.client.create(configMaps, configMap("settings", data: ["a": "1"]))
            let uid = try #require(created.uid)
            #expect(created.creationTimestamp != nil)
            var edited = created
            edited["data"] = ["a": "2"]
            let updated = try await cluster.client.update(configMaps, edited)
            #expect(updated.uid == uid)
            #expect(Int(updated.resourceVersion!)! > Int(created.resourceVersion!)!)
            // Writing the stale copy again is a conflict.
            do {
                _ = try await cluster.client.update(configMaps, edited)
                Issue.record("stale update accepted")
            } catch let error as KubeError {
                guard case .conflict(let status) = error else { throw error }
                #expect(status.code == 409 && status.message.contains("the object has been modified"))
            }
            // Creating it again: AlreadyExists, a different 409.
            do {
                _ = try await cluster.client.create(configMaps, configMap("settings"))
                Issue.record("duplicate create accepted")
            } catch let error as KubeError {
                guard case .alreadyExists(let status) = error else { throw error }
                #expect(status.message == "configmaps \"settings\" already exists")
                #expect(status.detailsName == "settings" && status.detailsKind == "configmaps")
            }
            try await cluster.client.delete(configMaps, namespace: "default", name: "settings")
            do {
                _ = try await cluster.client.get(configMaps, namespace: "default", name: "settings")
                Issue.record("deleted object still readable")
            } catch let error as KubeError {
                #expect(error.isNotFound)
                #expect(error.status?.message == "configmaps \"settings\" not found")
            }
        }
    }

    @Test func unconditionalUpdateForBuiltinsButNotCustomResources() async throws {
        try await withCluster { cluster in
            let secrets = try await cluster.resource("v1", "Secret")
            var secret = KubeObject(apiVersion: "v1", kind: "Secret", namespace: "default", name: "s", body: ["stringData": ["k": "v"]])
            let created = try await cluster.client.create(secrets, secret)
            #expect(created["data"]?["k"] == .string(Data("v".utf8).base64EncodedString()))
            #expect(created["stringData"] == nil)
            secret["stringData"] = nil
            secret["data"] = ["k": .string(Data("w".utf8).base64EncodedString())]
            // No resourceVersion: helm's release storage relies on this being accepted.
            _ = try await cluster.client.update(secrets, secret)

            let crds = try await cluster.resource("apiextensions.k8s.io/v1", "CustomResourceDefinition")
            _ = try await cluster.client.create(
                crds,
                KubeObject(
                    try YAMLDocuments.parseSingle(
                        try Fixtures.text("operators/memcached-operator/config/crd/bases/cache.example.com_memcacheds.yaml"))))
            let memcacheds = try await cluster.resource("cache.example.com/v1alpha1", "Memcached")
            var cr = KubeObject(
                apiVersion: "cache.example.com/v1alpha1", kind: "Memcached", namespace: "default", name: "m", body: ["spec": ["size": 1]])
            _ = try await cluster.client.create(memcacheds, cr)
            cr["spec"] = ["size": 2]
            do {
                _ = try await cluster.client.update(memcacheds, cr)
                Issue.record("unconditional update of a custom resource accepted")
            } catch let error as KubeError {
                guard case .invalid(let status) = error else { throw error }
                #expect(status.code == 422)
                #expect(status.causes.first?.field == "metadata.resourceVersion")
                #expect(status.message.contains("must be specified for an update"))
            }
        }
    }

    @Test func statusSubresourceSeparatesSpecAndStatus() async throws {
        try await withCluster { cluster in
            let deployments = try await cluster.resource("apps/v1", "Deployment")
            let body: JSONValue = [
                "spec": [
                    "replicas": 1, "selector": ["matchLabels": ["app": "x"]],
                    "template": ["metadata": ["labels": ["app": "x"]], "spec": ["containers": [["name": "c", "image": "i"]]]],
                ],
                "status": ["replicas": 99],
            ]
            let created = try await cluster.client.create(
                deployments, KubeObject(apiVersion: "apps/v1", kind: "Deployment", namespace: "default", name: "web", body: body))
            #expect(created["status"] == nil, "status is dropped on create")
            #expect(created.generation == 1)
            var withStatus = created
            withStatus["status"] = ["readyReplicas": 1]
            let afterStatus = try await cluster.client.updateStatus(deployments, withStatus)
            #expect(afterStatus["status"]?["readyReplicas"] == 1)
            #expect(afterStatus.generation == 1, "status writes do not bump generation")
            var scaled = afterStatus
            scaled.json.setValue(3, at: ["spec", "replicas"])
            scaled["status"] = ["readyReplicas": 0]
            let afterSpec = try await cluster.client.update(deployments, scaled)
            #expect(afterSpec.generation == 2)
            #expect(afterSpec["status"]?["readyReplicas"] == 1, "main resource writes ignore status")
        }
    }

    @Test func patchesOfEveryKind() async throws {
        try await withCluster { cluster in
            let configMaps = try await cluster.resource("v1", "ConfigMap")
            _ = try await cluster.client.create(configMaps, configMap("p", labels: ["a": "1"], data: ["x": "1", "y": "2"]))
            let merged = try await cluster.client.patch(
                configMaps, namespace: "default", name: "p", type: .merge, patch: ["data": ["x": .null, "z": "3"]])
            #expect(merged["data"] == ["y": "2", "z": "3"])
            let jsonPatched = try await cluster.client.patch(
                configMaps, namespace: "default", name: "p", type: .json,
                patch: [["op": "replace", "path": "/data/y", "value": "20"], ["op": "add", "path": "/metadata/labels/b", "value": "2"]])
            #expect(jsonPatched["data"]?["y"] == "20" && jsonPatched.labels == ["a": "1", "b": "2"])
            // A failed JSON patch test is a 422 and changes nothing.
            await #expect(throws: KubeError.self) {
                try await cluster.client.patch(
                    configMaps, namespace: "default", name: "p", type: .json, patch: [["op": "test", "path": "/data/y", "value": "nope"]])
            }
            let applied = try await cluster.client.patch(
                configMaps, namespace: "default", name: "fresh", type: .apply(fieldManager: "ferry-test", force: true),
                patch: ["apiVersion": "v1", "kind": "ConfigMap", "metadata": ["name": "fresh"], "data": ["k": "v"]])
            #expect(applied.uid != nil && applied["data"]?["k"] == "v")

            let deployments = try await cluster.resource("apps/v1", "Deployment")
            let spec: JSONValue = [
                "selector": ["matchLabels": ["app": "x"]],
                "template": [
                    "metadata": ["labels": ["app": "x"]],
                    "spec": [
                        "containers": [
                            ["name": "a", "image": "a:1", "ports": [["containerPort": 80]]], ["name": "b", "image": "b:1"],
                        ]
                    ],
                ],
            ]
            _ = try await cluster.client.create(
                deployments, KubeObject(apiVersion: "apps/v1", kind: "Deployment", namespace: "default", name: "d", body: ["spec": spec]))
            // Strategic merge: containers merge by name, `$patch: delete` removes one.
            let strategic = try await cluster.client.patch(
                deployments, namespace: "default", name: "d", type: .strategicMerge,
                patch: [
                    "spec": [
                        "template": [
                            "spec": [
                                "containers": [
                                    ["name": "a", "image": "a:2"], ["name": "b", "$patch": "delete"], ["name": "c", "image": "c:1"],
                                ]
                            ]
                        ]
                    ]
                ])
            let containers = strategic["spec"]?["template"]?["spec"]?["containers"]?.arrayValue ?? []
            #expect(containers.map { $0["name"]!.stringValue! } == ["a", "c"])
            #expect(containers[0]["image"] == "a:2" && containers[0]["ports"] != nil)
        }
    }

    @Test func listPaginationAndSelectors() async throws {
        try await withCluster { cluster in
            let configMaps = try await cluster.resource("v1", "ConfigMap")
            let objects = (0..<25).map { i in
                configMap(String(format: "cm-%02d", i), labels: ["parity": i % 2 == 0 ? "even" : "odd", "tier": i < 5 ? "gold" : "bronze"])
                    .json
            }
            try await cluster.server.load(objects)
            var seen: [String] = []
            var pages = 0
            let version = try await cluster.client.forEachPage(configMaps, namespace: "default", pageSize: 10) { page in
                #expect(page.count <= 10)
                pages += 1
                seen += page.map(\.name)
            }
            #expect(pages == 3 && seen == objects.map { $0["metadata"]!["name"]!.stringValue! } && !version.isEmpty)
            let first = try await cluster.client.list(configMaps, namespace: "default", options: ListOptions(limit: 10))
            #expect(first.remainingItemCount == 15)
            _ = try await cluster.client.create(configMaps, configMap("later"))
            let odd = try await cluster.client.listAll(configMaps, namespace: "default", labelSelector: "parity=odd,tier notin (gold)")
            #expect(odd.count == 10)
            #expect(odd.allSatisfy { $0.labels["parity"] == "odd" && $0.labels["tier"] == "bronze" })
            let named = try await cluster.client.listAll(configMaps, namespace: "default", fieldSelector: "metadata.name=cm-07")
            #expect(named.map(\.name) == ["cm-07"])
            // A field the API does not index is a 400 naming it, as kube-apiserver answers.
            do {
                _ = try await cluster.client.listAll(configMaps, namespace: "default", fieldSelector: "data.x=1")
                Issue.record("unsupported field selector accepted")
            } catch let error as KubeError {
                guard case .badRequest(let status) = error else { throw error }
                #expect(status.message.contains("field label not supported: data.x"))
            }
            // Continue tokens from before a compaction are expired (410).
            await cluster.server.compactHistory()
            do {
                _ = try await cluster.client.list(
                    configMaps, namespace: "default", options: ListOptions(limit: 10, continueToken: first.continueToken))
                Issue.record("expired continue token accepted")
            } catch let error as KubeError {
                #expect(error.isGone)
            }
        }
    }

    @Test func forbiddenCarriesTheRBACReason() async throws {
        try await withCluster { cluster in
            await cluster.server.deny(
                .init(verbs: ["list"], resource: "secrets", namespace: "default", reason: "RBAC: role \"reader\" not found"))
            let secrets = try await cluster.resource("v1", "Secret")
            do {
                _ = try await cluster.client.list(secrets, namespace: "default")
                Issue.record("denied list succeeded")
            } catch let error as KubeError {
                guard case .forbidden(let status) = error else { throw error }
                #expect(
                    status.message
                        == #"secrets is forbidden: User "system:admin" cannot list resource "secrets" "#
                        + #"in API group "" in the namespace "default": RBAC: role "reader" not found"#
                )
            }
            // Other verbs and namespaces are still allowed.
            _ = try await cluster.client.list(secrets, namespace: "kube-system")
        }
    }

    @Test func retriesThrottlingHonouringRetryAfter() async throws {
        try await withCluster(maxRetries: 2) { cluster in
            let configMaps = try await cluster.resource("v1", "ConfigMap")
            await cluster.server.addHook(
                .init(times: 2, matching: { $0.method == "GET" && $0.path.hasSuffix("/configmaps") }) { _, _ in
                    .respond(status: 429, reason: "TooManyRequests", message: "slow down", retryAfterSeconds: 0)
                })
            await cluster.server.clearRequests()
            _ = try await cluster.client.list(configMaps, namespace: "default")
            let statuses = await cluster.server.requests().filter { $0.path.hasSuffix("/configmaps") }.map(\.status)
            #expect(statuses == [429, 429, 200])
            // More failures than retries: the last error surfaces, typed.
            await cluster.server.addHook(
                .init(times: 5, matching: { $0.method == "GET" && $0.path.hasSuffix("/configmaps") }) { _, _ in
                    .respond(status: 503, reason: "ServiceUnavailable", message: "etcd is sad", retryAfterSeconds: 0)
                })
            do {
                _ = try await cluster.client.list(configMaps, namespace: "default")
                Issue.record("expected failure after retries")
            } catch let error as KubeError {
                guard case .serverError(let status) = error else { throw error }
                #expect(status.code == 503 && status.message == "etcd is sad")
            }
            // A create is not retried without Retry-After (it may have happened).
            await cluster.server.addHook(
                .init(times: 1, matching: { $0.method == "POST" }) { _, _ in
                    .respond(status: 500, reason: "InternalError", message: "boom")
                })
            await #expect(throws: KubeError.self) { try await cluster.client.create(configMaps, configMap("once")) }
        }
    }

    @Test func readsAreRetriedWhenTheConnectionDrops() async throws {
        try await withCluster { cluster in
            let configMaps = try await cluster.resource("v1", "ConfigMap")
            await cluster.server.addHook(
                .init(times: 1, matching: { $0.method == "GET" && $0.path.hasSuffix("/configmaps") }) { _, _ in .closeConnection })
            await cluster.server.clearRequests()
            _ = try await cluster.client.list(configMaps, namespace: "default")
            #expect(await cluster.server.requests().filter { $0.path.hasSuffix("/configmaps") }.map(\.status) == [0, 200])
        }
    }

    @Test func generateNameAndDryRun() async throws {
        try await withCluster { cluster in
            let configMaps = try await cluster.resource("v1", "ConfigMap")
            var template = KubeObject(apiVersion: "v1", kind: "ConfigMap", namespace: "default", name: "")
            template.json.setValue(nil, at: ["metadata", "name"])
            template.json.setValue("job-", at: ["metadata", "generateName"])
            let first = try await cluster.client.create(configMaps, template)
            let second = try await cluster.client.create(configMaps, template)
            #expect(first.name.hasPrefix("job-") && first.name.count == 9 && first.name != second.name)
            let invalid = await #expect(throws: KubeError.self) {
                try await cluster.client.create(
                    configMaps, KubeObject(apiVersion: "v1", kind: "ConfigMap", namespace: "default", name: "Not_Valid"))
            }
            #expect(invalid?.status?.causes.first?.field == "metadata.name")
            let missingNamespace = await #expect(throws: KubeError.self) {
                try await cluster.client.create(configMaps, configMap("x", namespace: "nowhere"))
            }
            #expect(missingNamespace?.isNotFound == true && missingNamespace?.status?.message == #"namespaces "nowhere" not found"#)
        }
    }

    @Test func watchDeliversEventsAndBookmarks() async throws {
        try await withCluster { cluster in
            let configMaps = try await cluster.resource("v1", "ConfigMap")
            let start = try await cluster.client.list(configMaps, namespace: "default").resourceVersion
            let events = cluster.client.watch(configMaps, namespace: "default", resourceVersion: start, labelSelector: "app=w")
            var iterator = events.makeAsyncIterator()
            _ = try await cluster.client.create(configMaps, configMap("w1", labels: ["app": "w"]))
            _ = try await cluster.client.create(configMaps, configMap("other"))
            _ = try await cluster.client.patch(configMaps, namespace: "default", name: "w1", type: .merge, patch: ["data": ["a": "b"]])
            // Leaving the selector is a DELETED event for this watch.
            _ = try await cluster.client.patch(
                configMaps, namespace: "default", name: "w1", type: .merge, patch: ["metadata": ["labels": ["app": "gone"]]])
            var kinds: [String] = []
            for _ in 0..<3 {
                switch try await iterator.next() {
                case .added(let o)?: kinds.append("ADDED \(o.name)")
                case .modified(let o)?: kinds.append("MODIFIED \(o.name)")
                case .deleted(let o)?: kinds.append("DELETED \(o.name)")
                default: kinds.append("other")
                }
            }
            #expect(kinds == ["ADDED w1", "MODIFIED w1", "DELETED w1"])
            await cluster.server.emitBookmarks()
            guard case .bookmark(let version)? = try await iterator.next() else {
                Issue.record("expected a bookmark")
                return
            }
            #expect(version == (await cluster.server.currentResourceVersion()))
        }
    }

    @Test func watchFromExpiredVersionIsGone() async throws {
        try await withCluster { cluster in
            let configMaps = try await cluster.resource("v1", "ConfigMap")
            let start = try await cluster.client.list(configMaps, namespace: "default").resourceVersion
            _ = try await cluster.client.create(configMaps, configMap("x"))
            await cluster.server.compactHistory()
            do {
                for try await _ in cluster.client.watch(configMaps, namespace: "default", resourceVersion: start) {}
                Issue.record("watch from a compacted version did not fail")
            } catch let error as KubeError {
                guard case .gone(let status) = error else { throw error }
                #expect(status.reason == "Expired" && status.message.hasPrefix("too old resource version: \(start)"))
            }
        }
    }

    @Test func listAndWatchRelistsAfterGoneAndResumesFromBookmarks() async throws {
        try await withCluster { cluster in
            let configMaps = try await cluster.resource("v1", "ConfigMap")
            _ = try await cluster.client.create(configMaps, configMap("a"))
            var iterator = cluster.client.listAndWatch(configMaps, namespace: "default").makeAsyncIterator()
            guard case .synced(let first, _)? = try await iterator.next() else {
                Issue.record("expected the initial list")
                return
            }
            #expect(first.map(\.name) == ["a"])
            _ = try await cluster.client.create(configMaps, configMap("b"))
            guard case .event(.added(let b))? = try await iterator.next() else {
                Issue.record("expected ADDED b")
                return
            }
            #expect(b.name == "b")
            // A bookmark moves the resume point; ending the watch makes the client re-watch from it.
            await cluster.server.emitBookmarks()
            let bookmarkVersion = await cluster.server.currentResourceVersion()
            await cluster.server.clearRequests()
            await cluster.server.endWatches()
            _ = try await cluster.client.create(configMaps, configMap("c"))
            guard case .event(.added(let c))? = try await iterator.next() else {
                Issue.record("expected ADDED c after re-watch")
                return
            }
            #expect(c.name == "c")
            let rewatch = await cluster.server.requests().first { $0.query["watch"] == "true" }
            #expect(rewatch?.query["resourceVersion"] == bookmarkVersion)
            // When the client re-watches, the history it needs is gone (410), so it relists
            // everything. The hook strikes at that request, not after a delay.
            await cluster.server.addHook(
                .init(times: 1, matching: { $0.query["watch"] == "true" }) { _, server in
                    _ = try? await server.load([configMap("d").json])
                    await server.compactHistory()
                    return .proceed
                })
            await cluster.server.endWatches()
            guard case .synced(let relisted, _)? = try await iterator.next() else {
                Issue.record("expected a relist after 410")
                return
            }
            #expect(relisted.map(\.name) == ["a", "b", "c", "d"])
        }
    }

    @Test func bearerTokensAndRotatedTokenFiles() async throws {
        var options = KubeTestServer.Options()
        options.tokens = [
            "good-token": "system:serviceaccount:ferry:coordinator", "rotated-token": "system:serviceaccount:ferry:coordinator",
        ]
        try await withCluster(options: options) { cluster in
            let anonymous = KubeClient(configuration: KubeClientConfiguration(server: cluster.server.url))
            let rejected = await #expect(throws: KubeError.self) { try await anonymous.resourceCatalog() }
            guard case .unauthorized? = rejected else {
                Issue.record("expected 401, got \(String(describing: rejected))")
                return
            }
            #expect(rejected?.description.contains("check the kubeconfig's credentials") == true)
            // A token file that rotates: after a 401 the client re-reads it and retries once.
            let directory = try TemporaryDirectory()
            let token = try directory.write("token", "stale-token")
            let client = KubeClient(configuration: KubeClientConfiguration(server: cluster.server.url, credentials: .tokenFile(token)))
            await #expect(throws: KubeError.self) { try await client.serverVersion() }
            try "rotated-token".write(toFile: token, atomically: true, encoding: .utf8)
            _ = try await client.resourceCatalog()
            await cluster.server.deny(.init(verbs: ["list"], resource: "secrets"))
            let secrets = try await client.resource(apiVersion: "v1", kind: "Secret")
            let denied = await #expect(throws: KubeError.self) { try await client.list(secrets, namespace: "ferry") }
            #expect(denied?.status?.message.contains(#"User "system:serviceaccount:ferry:coordinator" cannot list"#) == true)
        }
    }

    @Test func unreachableServerIsAClearError() async throws {
        // A port held bound but not listening: refused, and no other test's server can take it.
        try await LoopbackPort.refusing { port in
            let url = "http://127.0.0.1:\(port)"
            let client = KubeClient(configuration: KubeClientConfiguration(server: url, maxRetries: 1, connectTimeout: .seconds(2)))
            let error = await #expect(throws: KubeError.self) { try await client.resourceCatalog() }
            guard case .unreachable(let server, let reason)? = error else {
                Issue.record("expected unreachable, got \(String(describing: error))")
                return
            }
            #expect(server == url && reason.contains("connection refused"))
            #expect(error?.description.contains("cannot reach the API server \(url)") == true)
        }
    }
}

/// How requests are named for `ferry_kube_requests_total`: as the API server's audit log names
/// them (verb, group/resource/subresource).
@Suite struct KubeRequestRecordTests {
    @Test(
        arguments: [
            ("GET", "/api/v1/namespaces/db/pods", [], "list", "pods"),
            ("GET", "/api/v1/namespaces/db/pods", [("watch", "true")], "watch", "pods"),
            ("GET", "/api/v1/namespaces/db/pods/db-0", [], "get", "pods"),
            ("POST", "/api/v1/namespaces/db/pods/db-0/exec", [], "create", "pods/exec"),
            ("GET", "/api/v1/namespaces/db", [], "get", "namespaces"),
            ("GET", "/api/v1/namespaces", [], "list", "namespaces"),
            ("GET", "/api/v1/persistentvolumes/pv-1", [], "get", "persistentvolumes"),
            ("PUT", "/apis/ferry.dev/v1alpha1/namespaces/db/volumetransfers/u-0/status", [], "update", "ferry.dev/volumetransfers/status"),
            ("PATCH", "/apis/apps/v1/namespaces/db/deployments/web", [], "patch", "apps/deployments"),
            ("DELETE", "/apis/ferry.dev/v1alpha1/namespaces/db/volumetransfers", [], "deletecollection", "ferry.dev/volumetransfers"),
            ("DELETE", "/apis/coordination.k8s.io/v1/namespaces/ferry/leases/ferry", [], "delete", "coordination.k8s.io/leases"),
            ("GET", "/apis/ferry.dev/v1alpha1", [], "get", "discovery"),
            ("GET", "/apis", [], "get", "discovery"),
            ("GET", "/version", [], "get", "/version"),
        ] as [(String, String, [(String, String)], String, String)])
    func namesARequest(method: String, path: String, query: [(String, String)], verb: String, resource: String) {
        let record = KubeRequestRecord(method: method, path: path, query: query, status: 200)
        #expect(record == KubeRequestRecord(verb: verb, resource: resource, status: 200))
    }
}
