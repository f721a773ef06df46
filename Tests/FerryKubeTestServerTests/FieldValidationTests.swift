import FerryKube
import FerryKubeTestServer
import Foundation
import Testing

/// Server-side field validation of built-in kinds (their Go types read from the OpenAPI
/// definitions) and of custom resources, on create, update, patch and apply: unknown and
/// duplicate fields reported as kube-apiserver reports them, in document order.
@Suite struct FieldValidationTests {
    static let deployments = "/apis/apps/v1/namespaces/default/deployments"

    /// A Deployment with a misspelt field at two depths and `replicas` given twice.
    static let misspelt = Array(
        """
        {"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"web","namespace":"default"},
         "spec":{"replica":1,"replicas":1,"replicas":2,"selector":{"matchLabels":{"app":"web"}},
           "template":{"metadata":{"labels":{"app":"web"}},
             "spec":{"containers":[{"name":"web","image":"web:1","imagePullPolice":"Always"}]}}}}
        """.utf8)

    @Test func strictRefusesUnknownAndDuplicateFieldsOfBuiltinKinds() async throws {
        try await withServer { _, client in
            let (code, status) = await raw(client, "POST", Self.deployments, query: [("fieldValidation", "Strict")], body: Self.misspelt)
            #expect(code == 400 && status?["reason"] == "BadRequest")
            #expect(
                status?["message"]
                    == .string(
                        #"Deployment in version "v1" cannot be handled as a Deployment"#
                            + #": strict decoding error: unknown field "spec.replica""#
                            + #", duplicate field "spec.replicas""#
                            + #", unknown field "spec.template.spec.containers[0].imagePullPolice""#),
                "\(String(describing: status))")
            let (update, _) = await raw(
                client, "PUT", "\(Self.deployments)/web", query: [("fieldValidation", "Strict")], body: Self.misspelt)
            #expect(update == 404, "the create was refused")
        }
    }

    @Test func warnStoresTheObjectWithoutTheUnknownFieldsAndSaysSo() async throws {
        try await withServer { _, client in
            let response = try await client.send("POST", Self.deployments, body: Self.misspelt)
            #expect(response.status == 201)
            #expect(
                response.headers.values("Warning") == [
                    #"299 - "unknown field \"spec.replica\"""#, #"299 - "duplicate field \"spec.replicas\"""#,
                    #"299 - "unknown field \"spec.template.spec.containers[0].imagePullPolice\"""#,
                ], "\(response.headers.values("Warning"))")
            let stored = try JSONValue(parsing: response.body)
            #expect(stored["spec"]?["replica"] == nil && stored["spec"]?["replicas"] == 2, "the last duplicate wins")
            #expect(stored["spec"]?["template"]?["spec"]?["containers"]?[0]?["imagePullPolice"] == nil)

            var body = Self.misspelt
            body = Array(
                String(decoding: body, as: UTF8.self).replacingOccurrences(
                    of: "\"name\":\"web\",\"namespace\"", with: "\"name\":\"quiet\",\"namespace\""
                ).utf8)
            let quiet = try await client.send("POST", Self.deployments, query: [("fieldValidation", "Ignore")], body: body)
            #expect(quiet.status == 201 && quiet.headers.values("Warning").isEmpty)

            let (invalid, status) = await raw(client, "POST", Self.deployments, query: [("fieldValidation", "Loose")], body: body)
            #expect(invalid == 422)
            #expect(
                status?["message"]
                    == .string(
                        #"CreateOptions.meta.k8s.io "" is invalid: fieldValidation: Unsupported value: "Loose""#
                            + #": supported values: "Ignore", "Warn", "Strict""#)
            )
        }
    }

    @Test func patchesAreCheckedOnThePatchedObject() async throws {
        try await withServer { server, client in
            try await server.load(
                yaml: """
                    apiVersion: v1
                    kind: ConfigMap
                    metadata: {name: settings, namespace: default}
                    data: {a: "1"}
                    """)
            let path = "/api/v1/namespaces/default/configmaps/settings"
            let (merge, mergeStatus) = await raw(
                client, "PATCH", path, query: [("fieldValidation", "Strict")], body: Array(#"{"datta":{"b":"2"}}"#.utf8),
                contentType: "application/merge-patch+json")
            #expect(merge == 422 && mergeStatus?["reason"] == "Invalid")
            let message = mergeStatus?["message"]?.stringValue ?? ""
            #expect(message.hasPrefix(#" "" is invalid: patch: Invalid value: "{\"apiVersion\":\"v1\","#), "\(message)")
            #expect(message.hasSuffix(#"": strict decoding error: unknown field "datta""#), "\(message)")
            #expect(mergeStatus?["details"]?["causes"]?[0]?["field"] == "patch")

            try await server.load(
                yaml: """
                    apiVersion: apps/v1
                    kind: Deployment
                    metadata: {name: web, namespace: default}
                    spec:
                      selector: {matchLabels: {app: web}}
                      template:
                        metadata: {labels: {app: web}}
                        spec: {containers: [{name: web, image: "web:1"}]}
                    """)
            let (strategic, strategicStatus) = await raw(
                client, "PATCH", "\(Self.deployments)/web", query: [("fieldValidation", "Strict")],
                body: Array(#"{"spec":{"replicas":2,"replicaz":3}}"#.utf8), contentType: "application/strategic-merge-patch+json")
            #expect(strategic == 422)
            #expect(
                strategicStatus?["message"]
                    == .string(
                        #" "" is invalid: patch: Invalid value: "map[spec:map[replicas:2 replicaz:3]]""#
                            + #": strict decoding error: unknown field "spec.replicaz""#),
                "\(String(describing: strategicStatus))")

            let warned = try await client.send(
                "PATCH", "\(Self.deployments)/web", body: Array(#"{"spec":{"replicas":2,"replicas":3,"paused":false}}"#.utf8),
                contentType: "application/merge-patch+json")
            #expect(warned.status == 200)
            #expect(
                warned.headers.values("Warning") == [#"299 - "duplicate field \"spec.replicas\"""#], "\(warned.headers.values("Warning"))")
            #expect(try JSONValue(parsing: warned.body)["spec"]?["replicas"] == 3)
        }
    }

    @Test func serverSideApplyRefusesFieldsTheSchemaDoesNotDeclare() async throws {
        try await withServer { _, client in
            let path = "\(Self.deployments)/web"
            let applied =
                #"{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"web","namespace":"default"},"#
                + #""spec":{"selector":{"matchLabels":{"app":"web"}},"template":{"metadata":{"labels":{"app":"web"}},"#
                + #""spec":{"containers":[{"name":"web","image":"web:1","imagePullPolice":"Always"}]}}}}"#
            let (code, status) = await raw(
                client, "PATCH", path, query: [("fieldManager", "helm"), ("fieldValidation", "Ignore")], body: Array(applied.utf8),
                contentType: "application/apply-patch+yaml")
            #expect(code == 500, "structured-merge-diff's error is not a Status: kube-apiserver answers 500")
            #expect(
                status?["message"]
                    == .string(
                        #"failed to create typed patch object (default/web; apps/v1, Kind=Deployment)"#
                            + #": .spec.template.spec.containers[name="web"].imagePullPolice: field not declared in schema"#),
                "\(String(describing: status))")

            let duplicated = applied.replacingOccurrences(of: #","imagePullPolice":"Always""#, with: "")
                .replacingOccurrences(of: #""spec":{"selector""#, with: #""spec":{"replicas":1,"replicas":2,"selector""#)
            let (strict, strictStatus) = await raw(
                client, "PATCH", path, query: [("fieldManager", "helm"), ("fieldValidation", "Strict")], body: Array(duplicated.utf8),
                contentType: "application/apply-patch+yaml")
            #expect(strict == 400)
            #expect(
                strictStatus?["message"]
                    == .string(
                        "error strict decoding YAML: error converting YAML to JSON: yaml: unmarshal errors:\n"
                            + "  line 1: key \"replicas\" already set in map"),
                "\(String(describing: strictStatus))")
            let created = try await client.send(
                "PATCH", path, query: [("fieldManager", "helm"), ("fieldValidation", "Strict")],
                body: Array(duplicated.replacingOccurrences(of: #""replicas":1,"#, with: "").utf8),
                contentType: "application/apply-patch+yaml")
            #expect(created.status == 201)
        }
    }

    @Test func customResourcesReportDuplicatesAndUnknownMetadata() async throws {
        try await withServer { server, client in
            try await server.load(yaml: OpenAPITests.crd)
            let body = Array(
                (#"{"apiVersion":"example.com/v1","kind":"Widget","metadata":{"name":"w","labelz":{"a":"b"}},"#
                    + #""spec":{"size":1,"size":2,"colour":"red"}}"#)
                    .utf8)
            let (code, status) = await raw(
                client, "POST", "/apis/example.com/v1/namespaces/default/widgets", query: [("fieldValidation", "Strict")], body: body)
            #expect(code == 400)
            #expect(
                status?["message"]
                    == .string(
                        #"Widget in version "v1" cannot be handled as a Widget: strict decoding error: duplicate field "spec.size""#
                            + #", unknown field "spec.colour", unknown field "metadata.labelz""#),
                "\(String(describing: status))")
        }
    }
}
