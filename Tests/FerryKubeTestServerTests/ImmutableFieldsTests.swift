import FerryKube
import FerryKubeTestServer
import Foundation
import Testing

/// Updates of the built-in kinds meet kube-apiserver's immutability rules and its 422 answers.
@Suite struct ImmutableFieldsTests {
    func put(_ client: KubeClient, _ path: String, _ object: JSONValue) async -> (Int, JSONValue?) {
        await raw(client, "PUT", path, body: object.serialized())
    }

    func stored(_ server: KubeTestServer, _ apiVersion: String, _ kind: String, _ name: String) async throws -> JSONValue {
        try #require(await server.object(apiVersion: apiVersion, kind: kind, namespace: "default", name: name)).json
    }

    @Test func claimsChangeOnlyTheirStorageRequestUpwardsAndTheirBinding() async throws {
        try await withServer { server, client in
            try await server.load(
                yaml: """
                    apiVersion: v1
                    kind: PersistentVolumeClaim
                    metadata: {name: data, namespace: default}
                    spec: {accessModes: [ReadWriteOnce], storageClassName: fast, resources: {requests: {storage: 8Mi}}}
                    """)
            let path = "/api/v1/namespaces/default/persistentvolumeclaims/data"
            var claim = try await stored(server, "v1", "PersistentVolumeClaim", "data")
            claim.setValue("pv-1", at: ["spec", "volumeName"])
            claim.setValue("1Gi", at: ["spec", "resources", "requests", "storage"])
            let (bound, _) = await put(client, path, claim)
            #expect(bound == 200, "binding an unbound claim and growing it are allowed")

            claim = try await stored(server, "v1", "PersistentVolumeClaim", "data")
            claim.setValue("4Mi", at: ["spec", "resources", "requests", "storage"])
            claim.setValue("slow", at: ["spec", "storageClassName"])
            let (code, status) = await put(client, path, claim)
            #expect(code == 422)
            #expect(
                status?["message"]
                    == .string(
                        #"PersistentVolumeClaim "data" is invalid: [spec.resources.requests.storage"#
                            + #": Forbidden: field can not be less than previous value"#
                            + #", spec: Forbidden: spec is immutable after creation "#
                            + #"except resources.requests and volumeAttributesClassName for bound claims]"#),
                "\(String(describing: status))")
            #expect(status?["details"]?["causes"]?[0]?["reason"] == "FieldValueForbidden")
        }
    }

    @Test func podsChangeOnlyTheirImagesAndTolerationAdditions() async throws {
        try await withServer { server, client in
            try await server.load(
                yaml: """
                    apiVersion: v1
                    kind: Pod
                    metadata: {name: web, namespace: default}
                    spec: {containers: [{name: web, image: nginx:1}]}
                    """)
            let path = "/api/v1/namespaces/default/pods/web"
            var pod = try await stored(server, "v1", "Pod", "web")
            pod.setValue([["name": "web", "image": "nginx:2"]], at: ["spec", "containers"])
            #expect(await put(client, path, pod).0 == 200)
            pod = try await stored(server, "v1", "Pod", "web")
            pod.setValue("Never", at: ["spec", "restartPolicy"])
            let (code, status) = await put(client, path, pod)
            #expect(code == 422)
            #expect(
                status?["message"]?.stringValue?.hasPrefix(
                    #"Pod "web" is invalid: spec: Forbidden: pod updates may not change fields other than `spec.containers[*].image`"#)
                    == true,
                "\(String(describing: status))")
        }
    }

    @Test func selectorsClaimTemplatesAndClusterIPsStay() async throws {
        try await withServer { server, client in
            try await server.load(
                yaml: """
                    apiVersion: apps/v1
                    kind: Deployment
                    metadata: {name: web, namespace: default}
                    spec:
                      selector: {matchLabels: {app: web}}
                      template: {metadata: {labels: {app: web}}, spec: {containers: [{name: web, image: nginx}]}}
                    ---
                    apiVersion: apps/v1
                    kind: StatefulSet
                    metadata: {name: db, namespace: default}
                    spec:
                      serviceName: db
                      selector: {matchLabels: {app: db}}
                      template: {metadata: {labels: {app: db}}, spec: {containers: [{name: db, image: postgres}]}}
                      volumeClaimTemplates:
                      - {metadata: {name: data}, spec: {accessModes: [ReadWriteOnce], resources: {requests: {storage: 1Gi}}}}
                    ---
                    apiVersion: v1
                    kind: Service
                    metadata: {name: web, namespace: default}
                    spec: {ports: [{port: 80}]}
                    """)
            var deployment = try await stored(server, "apps/v1", "Deployment", "web")
            deployment.setValue(["matchLabels": ["app": "other"]], at: ["spec", "selector"])
            let (code, status) = await put(client, "/apis/apps/v1/namespaces/default/deployments/web", deployment)
            #expect(code == 422 && status?["details"]?["causes"]?[0]?["field"] == "spec.selector", "\(String(describing: status))")
            #expect(status?["message"]?.stringValue?.hasSuffix("field is immutable") == true)

            var set = try await stored(server, "apps/v1", "StatefulSet", "db")
            set.setValue(3, at: ["spec", "replicas"])
            #expect(await put(client, "/apis/apps/v1/namespaces/default/statefulsets/db", set).0 == 200, "replicas may change")
            set = try await stored(server, "apps/v1", "StatefulSet", "db")
            set.setValue([], at: ["spec", "volumeClaimTemplates"])
            let (refused, why) = await put(client, "/apis/apps/v1/namespaces/default/statefulsets/db", set)
            #expect(refused == 422)
            #expect(why?["message"]?.stringValue?.contains("updates to statefulset spec for fields other than 'replicas'") == true)

            var service = try await stored(server, "v1", "Service", "web")
            service.setValue("10.96.9.9", at: ["spec", "clusterIP"])
            let (moved, answer) = await put(client, "/api/v1/namespaces/default/services/web", service)
            #expect(
                moved == 422 && answer?["details"]?["causes"]?[0]?["message"]?.stringValue?.hasSuffix("may not change once set") == true,
                "\(String(describing: answer))")
        }
    }
}
