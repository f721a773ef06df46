import FerryKube
import FerryKubeTestServer
import Foundation
import Testing

/// `kubectl get`'s Accept header (`application/json;as=Table;v=v1;g=meta.k8s.io`) is answered
/// with a `meta.k8s.io/v1` Table: a CRD's printer columns evaluated as the real server evaluates
/// them, the built-in printers' columns for the kinds Ferry's users look at, and each row's
/// object as `includeObject` asks.
@Suite struct TableTests {
    static let accept = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json"

    static let crd = """
        apiVersion: apiextensions.k8s.io/v1
        kind: CustomResourceDefinition
        metadata: {name: jobs.example.com}
        spec:
          group: example.com
          scope: Namespaced
          names: {plural: jobs, singular: job, kind: Job}
          versions:
          - name: v1
            served: true
            storage: true
            subresources: {status: {}}
            additionalPrinterColumns:
            - {name: Phase, type: string, jsonPath: .status.phase}
            - {name: Done, type: integer, jsonPath: .status.done, description: Units done}
            - {name: Ratio, type: number, jsonPath: .status.ratio, priority: 1}
            - {name: Ready, type: string, jsonPath: '.status.conditions[?(@.type=="Ready")].status'}
            - {name: Tags, type: string, jsonPath: .spec.tags}
            - {name: Started, type: date, jsonPath: .status.started}
            schema:
              openAPIV3Schema:
                type: object
                x-kubernetes-preserve-unknown-fields: true
        """

    func get(_ client: KubeClient, _ path: String, query: [(String, String)] = []) async throws -> (JSONValue, String) {
        let response = try await client.send("GET", path, query: query, accept: Self.accept)
        return (try JSONValue(parsing: response.body), response.headers["Content-Type"] ?? "")
    }

    func cells(_ table: JSONValue) -> [[JSONValue]] {
        (table["rows"]?.arrayValue ?? []).map { $0["cells"]?.arrayValue ?? [] }
    }

    @Test func customResourcesShowTheirPrinterColumns() async throws {
        try await withServer { server, client in
            let started = RecentTimestamp.ago(days: 20)
            try await server.load(
                yaml: Self.crd + """

                    ---
                    apiVersion: example.com/v1
                    kind: Job
                    metadata: {name: nightly, namespace: default}
                    spec: {tags: [a, b]}
                    status:
                      phase: Running
                      done: 12
                      ratio: 0.5
                      started: "\(started)"
                      conditions: [{type: Scheduled, status: "True"}, {type: Ready, status: "False"}]
                    ---
                    apiVersion: example.com/v1
                    kind: Job
                    metadata: {name: pending, namespace: default}
                    """)
            let (table, contentType) = try await get(client, "/apis/example.com/v1/namespaces/default/jobs")
            #expect(contentType == "application/json;as=Table;v=v1;g=meta.k8s.io")
            #expect(table["kind"] == "Table" && table["apiVersion"] == "meta.k8s.io/v1")
            #expect(table["metadata"]?["resourceVersion"] != nil)
            let columns = table["columnDefinitions"]?.arrayValue ?? []
            #expect(columns.map { $0["name"]?.stringValue ?? "" } == ["Name", "Phase", "Done", "Ratio", "Ready", "Tags", "Started"])
            #expect(columns.map { $0["type"]?.stringValue ?? "" } == ["string", "string", "integer", "number", "string", "string", "date"])
            #expect(columns.map { $0["priority"]?.intValue ?? -1 } == [0, 0, 0, 1, 0, 0, 0])
            #expect(columns[0]["format"] == "name" && columns[2]["description"] == "Units done")
            #expect(columns[1]["description"] == "Custom resource definition column (in JSONPath format): .status.phase")
            #expect(
                cells(table) == [
                    ["nightly", "Running", 12, 0.5, "False", #"["a","b"]"#, "20d"],
                    ["pending", .null, .null, .null, .null, .null, .null],
                ], "\(cells(table))")
            let row = table["rows"]?[0]?["object"]
            #expect(
                row?["kind"] == "PartialObjectMetadata" && row?["apiVersion"] == "meta.k8s.io/v1" && row?["metadata"]?["name"] == "nightly")
            #expect(row?["spec"] == nil)

            let (full, _) = try await get(
                client, "/apis/example.com/v1/namespaces/default/jobs/nightly", query: [("includeObject", "Object")])
            #expect(full["rows"]?.arrayValue?.count == 1 && full["rows"]?[0]?["object"]?["spec"]?["tags"] == ["a", "b"])
            #expect(full["rows"]?[0]?["object"]?["kind"] == "Job")
            let (none, _) = try await get(client, "/apis/example.com/v1/namespaces/default/jobs", query: [("includeObject", "None")])
            #expect(none["rows"]?[0]?["object"] == nil && none["rows"]?[0]?["cells"]?[0] == "nightly")
            let (bad, status) = await raw(
                client, "GET", "/apis/example.com/v1/namespaces/default/jobs", query: [("includeObject", "All")], accept: Self.accept)
            #expect(bad == 400 && status?["message"] == #"unrecognized includeObject value: "All""#)
            let (_, plain) = await raw(client, "GET", "/apis/example.com/v1/namespaces/default/jobs")
            #expect(plain?["kind"] == "JobList", "without the Table Accept, a list")
        }
    }

    @Test func aCRDWithoutColumnsShowsItsAge() async throws {
        try await withServer { server, client in
            try await server.load(yaml: OpenAPITests.crd)
            try await server.load(yaml: "apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w, namespace: default}")
            let (table, _) = try await get(client, "/apis/example.com/v1/namespaces/default/widgets")
            #expect((table["columnDefinitions"]?.arrayValue ?? []).map { $0["name"]?.stringValue ?? "" } == ["Name", "Age"])
            #expect(cells(table).first?.first == "w" && cells(table).first?.last?.stringValue?.hasSuffix("s") == true)
        }
    }

    @Test func builtinKindsShowTheirPrintersColumns() async throws {
        try await withServer { server, client in
            let created = RecentTimestamp.ago(days: 30)
            let restarted = RecentTimestamp.ago(days: 20)
            try await server.load(
                yaml: """
                    apiVersion: v1
                    kind: PersistentVolumeClaim
                    metadata: {name: data, namespace: default, creationTimestamp: "\(created)"}
                    spec:
                      accessModes: [ReadWriteOnce]
                      resources: {requests: {storage: 10Gi}}
                      storageClassName: fast
                      volumeName: pv-1
                      volumeMode: Filesystem
                    status: {phase: Bound, accessModes: [ReadWriteOnce, ReadWriteMany], capacity: {storage: 10Gi}}
                    ---
                    apiVersion: v1
                    kind: PersistentVolumeClaim
                    metadata: {name: waiting, namespace: default}
                    spec: {accessModes: [ReadWriteOnce], resources: {requests: {storage: 1Gi}}}
                    status: {phase: Pending}
                    ---
                    apiVersion: v1
                    kind: Pod
                    metadata: {name: db-0, namespace: default, creationTimestamp: "\(created)"}
                    spec:
                      nodeName: node-1
                      containers: [{name: db, image: db}, {name: log, image: log}]
                    status:
                      phase: Running
                      podIPs: [{ip: 10.1.2.3}]
                      conditions: [{type: Ready, status: "False"}]
                      containerStatuses:
                      - name: db
                        ready: true
                        restartCount: 2
                        state: {running: {}}
                        lastState: {terminated: {exitCode: 1, finishedAt: "\(restarted)"}}
                      - {name: log, ready: false, restartCount: 0, state: {waiting: {reason: CrashLoopBackOff}}}
                    ---
                    apiVersion: apps/v1
                    kind: Deployment
                    metadata: {name: web, namespace: default, creationTimestamp: "\(created)"}
                    spec:
                      replicas: 3
                      selector: {matchLabels: {app: web}}
                      template:
                        metadata: {labels: {app: web}}
                        spec: {containers: [{name: web, image: "web:1"}, {name: side, image: "side:2"}]}
                    status: {readyReplicas: 2, updatedReplicas: 3, availableReplicas: 2}
                    ---
                    apiVersion: apps/v1
                    kind: DaemonSet
                    metadata: {name: agent, namespace: default, creationTimestamp: "\(created)"}
                    spec:
                      selector: {matchLabels: {app: agent}}
                      template:
                        metadata: {labels: {app: agent}}
                        spec: {nodeSelector: {disk: ssd}, containers: [{name: agent, image: "agent:1"}]}
                    status:
                      desiredNumberScheduled: 3
                      currentNumberScheduled: 3
                      numberReady: 2
                      updatedNumberScheduled: 3
                      numberAvailable: 2
                    ---
                    apiVersion: v1
                    kind: Secret
                    metadata: {name: key, namespace: default, creationTimestamp: "\(created)"}
                    type: Opaque
                    data: {a: YQ==, b: Yg==}
                    """)
            let (claims, _) = try await get(client, "/api/v1/namespaces/default/persistentvolumeclaims")
            #expect(
                (claims["columnDefinitions"]?.arrayValue ?? []).map { $0["name"]?.stringValue ?? "" } == [
                    "Name", "Status", "Volume", "Capacity", "Access Modes", "StorageClass", "VolumeAttributesClass", "Age", "VolumeMode",
                ])
            #expect(
                cells(claims).first == ["data", "Bound", "pv-1", "10Gi", "RWO,RWX", "fast", "<unset>", "30d", "Filesystem"],
                "\(cells(claims))")
            #expect(cells(claims).last?.prefix(5) == ["waiting", "Pending", "", "", ""])
            let status = claims["columnDefinitions"]?[1]?["description"]?.stringValue ?? ""
            #expect(
                status.hasPrefix("phase represents the current phase of PersistentVolumeClaim."),
                "documentation from the definitions: \(status)")

            let (pods, _) = try await get(client, "/api/v1/namespaces/default/pods")
            #expect(
                cells(pods).first == ["db-0", "1/2", "CrashLoopBackOff", "2 (20d ago)", "30d", "10.1.2.3", "node-1", "<none>", "<none>"],
                "\(cells(pods))")
            #expect(
                (pods["columnDefinitions"]?.arrayValue ?? []).filter { $0["priority"] == 1 }.map { $0["name"]?.stringValue ?? "" }
                    == ["IP", "Node", "Nominated Node", "Readiness Gates"])
            let (deployments, _) = try await get(client, "/apis/apps/v1/namespaces/default/deployments")
            #expect(
                cells(deployments).first == ["web", "2/3", 3, 2, "30d", "web,side", "web:1,side:2", "app=web"], "\(cells(deployments))")
            let (daemons, _) = try await get(client, "/apis/apps/v1/namespaces/default/daemonsets")
            #expect(
                cells(daemons).first == ["agent", 3, 3, 2, 3, 2, "disk=ssd", "30d", "agent", "agent:1", "app=agent"], "\(cells(daemons))")
            let (secrets, _) = try await get(client, "/api/v1/namespaces/default/secrets/key")
            #expect(cells(secrets) == [["key", "Opaque", 2, "30d"]], "\(cells(secrets))")
            let (nodes, _) = try await get(client, "/api/v1/namespaces")
            #expect((nodes["columnDefinitions"]?.arrayValue ?? []).map { $0["name"]?.stringValue ?? "" } == ["Name", "Status", "Age"])
            let (classes, _) = try await get(client, "/apis/storage.k8s.io/v1/storageclasses")
            #expect(
                (classes["columnDefinitions"]?.arrayValue ?? []).map { $0["name"]?.stringValue ?? "" } == ["Name", "Created At"],
                "kinds without a printer get the default convertor's columns")
        }
    }

    @Test func watchEventsAreTablesWithColumnsOnlyInTheFirst() async throws {
        try await withServer { server, client in
            let path = "/api/v1/namespaces/default/configmaps"
            try await server.load(yaml: "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a, namespace: default}\ndata: {x: y}")
            try await server.load(yaml: "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: b, namespace: default}")
            let events = String(
                decoding: try await client.send(
                    "GET", path, query: [("watch", "true"), ("resourceVersion", "1"), ("timeoutSeconds", "1")], accept: Self.accept
                ).body, as: UTF8.self
            )
            .split(separator: "\n").compactMap { try? JSONValue(parsing: String($0)) }
            #expect(events.count == 2, "\(events)")
            #expect(events.first?["type"] == "ADDED" && events.first?["object"]?["kind"] == "Table")
            #expect(events.first?["object"]?["columnDefinitions"]?.arrayValue?.count == 3)
            #expect(events.first?["object"]?["rows"]?[0]?["cells"]?.arrayValue?.prefix(2) == ["a", 1])
            #expect(events.last?["object"]?["columnDefinitions"] == nil && events.last?["object"]?["rows"]?[0]?["cells"]?[0] == "b")
        }
    }
}

/// Timestamps relative to now, as the server writes them. Whole days ago, because a table shows an age of
/// days as whole days until the next one (`20d`) whereas minutes show the seconds a loaded machine spends
/// between writing the object and reading the table (`5m1s`).
enum RecentTimestamp {
    static func ago(days: Int) -> String {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime]
        return formatter.string(from: Date().addingTimeInterval(-Double(days) * 86_400))
    }
}
