import FerryKube
import FerryKubeTestServer
import Foundation
import Testing

/// Custom resources are defaulted and validated against their CRD's structural schema, with the
/// real server's 422 answers: `reason: Invalid`, the message `<Kind>.<group> "<name>" is invalid:
/// <field>: <detail>` (a bracketed list when several), and one cause per failed check with its
/// field path and reason (FieldValueRequired, FieldValueNotSupported, FieldValueInvalid,
/// FieldValueTypeInvalid, FieldValueTooLong, FieldValueTooMany), worded as kube-openapi's
/// validator words them.
@Suite struct SchemaValidationTests {
    static let crd = """
        apiVersion: apiextensions.k8s.io/v1
        kind: CustomResourceDefinition
        metadata: {name: widgets.example.com}
        spec:
          group: example.com
          scope: Namespaced
          names: {plural: widgets, singular: widget, kind: Widget}
          versions:
          - name: v1
            served: true
            storage: true
            schema:
              openAPIV3Schema:
                type: object
                required: [spec]
                properties:
                  spec:
                    type: object
                    required: [size]
                    properties:
                      size: {type: integer, minimum: 1, maximum: 10}
                      mode: {type: string, enum: [Fast, Safe], default: Safe}
                      timeout: {type: string, pattern: '^([0-9]+[smhd])+$'}
                      name: {type: string, maxLength: 5}
                      tags: {type: array, maxItems: 2, items: {type: string}}
                      port: {x-kubernetes-int-or-string: true}
                      when: {type: string, format: date-time}
                      nested: {type: object, properties: {count: {type: integer, default: 3}}}
        """

    func create(_ client: KubeClient, _ spec: String) async -> (Int, JSONValue?) {
        let body = #"{"apiVersion":"example.com/v1","kind":"Widget","metadata":{"name":"w","namespace":"default"},"spec":\#(spec)}"#
        return await raw(client, "POST", "/apis/example.com/v1/namespaces/default/widgets", body: Array(body.utf8))
    }

    @Test func invalidObjectsGetTheRealAnswer() async throws {
        try await withServer { server, client in
            try await server.load(yaml: Self.crd)
            let (code, status) = await create(
                client, #"{"size":0,"mode":"Slow","timeout":"soon","name":"toolong","tags":["a","b","c"],"port":1.5}"#)
            #expect(code == 422)
            #expect(status?["reason"] == "Invalid")
            #expect(
                status?["details"]?["kind"] == "Widget" && status?["details"]?["group"] == "example.com"
                    && status?["details"]?["name"] == "w")
            let causes = (status?["details"]?["causes"]?.arrayValue ?? []).map {
                "\($0["field"]?.stringValue ?? "") \($0["reason"]?.stringValue ?? ""): \($0["message"]?.stringValue ?? "")"
            }
            #expect(
                causes == [
                    #"spec.mode FieldValueNotSupported: Unsupported value: "Slow": supported values: "Fast", "Safe""#,
                    #"spec.name FieldValueTooLong: Too long: may not be longer than 5"#,
                    #"spec.port FieldValueTypeInvalid: Invalid value: "number""#
                        + #": spec.port in body must be of type integer-or-string: "number""#,
                    #"spec.size FieldValueInvalid: Invalid value: 0: spec.size in body should be greater than or equal to 1"#,
                    #"spec.tags FieldValueTooMany: Too many: 3: must have at most 2 items"#,
                    #"spec.timeout FieldValueInvalid: Invalid value: "soon": spec.timeout in body should match '^([0-9]+[smhd])+$'"#,
                ], "\(causes)")
            #expect(
                status?["message"]?.stringValue?.hasPrefix(#"Widget.example.com "w" is invalid: [spec.mode: Unsupported value: "Slow""#)
                    == true)

            let (missing, required) = await create(client, #"{"when":"yesterday"}"#)
            #expect(missing == 422)
            #expect(
                required?["message"]
                    == .string(
                        #"Widget.example.com "w" is invalid: [spec.size: Required value"#
                            + #", spec.when: Invalid value: "yesterday": spec.when in body must be of type date-time: "yesterday"]"#),
                "\(String(describing: required))")
            let (wrongType, typed) = await create(client, #"{"size":"3"}"#)
            #expect(wrongType == 422)
            #expect(
                typed?["message"]
                    == .string(
                        #"Widget.example.com "w" is invalid: spec.size: Invalid value: "string""#
                            + #": spec.size in body must be of type integer: "string""#),
                "\(String(describing: typed))")
        }
    }

    /// Server-side field validation: Strict refuses a misspelt field with the real 400, Warn (the
    /// default) stores the object without it and says so in a Warning header.
    @Test func unknownFieldsAreRefusedWhenAskedForStrictValidation() async throws {
        try await withServer { server, client in
            try await server.load(yaml: Self.crd)
            let body = Array(
                (#"{"apiVersion":"example.com/v1","kind":"Widget","metadata":{"name":"w","namespace":"default"},"#
                    + #""spec":{"size":1,"sise":2,"nested":{"cnt":1}}}"#)
                    .utf8)
            let path = "/apis/example.com/v1/namespaces/default/widgets"
            let (code, status) = await raw(client, "POST", path, query: [("fieldValidation", "Strict")], body: body)
            #expect(code == 400 && status?["reason"] == "BadRequest")
            #expect(
                status?["message"]
                    == .string(
                        #"Widget in version "v1" cannot be handled as a Widget: strict decoding error: unknown field "spec.nested.cnt""#
                            + #", unknown field "spec.sise""#),
                "\(String(describing: status))")
            let response = try await client.send("POST", path, body: body, contentType: "application/json", accept: "application/json")
            #expect(response.status == 201)
            #expect(
                response.headers.values("Warning") == [
                    #"299 - "unknown field \"spec.nested.cnt\"""#, #"299 - "unknown field \"spec.sise\"""#,
                ],
                "\(response.headers.values("Warning"))")
            #expect(try JSONValue(parsing: response.body)["spec"]?["sise"] == nil, "pruned")
        }
    }

    @Test func defaultsAreAppliedAndValidObjectsStored() async throws {
        try await withServer { server, client in
            try await server.load(yaml: Self.crd)
            let (code, stored) = await create(client, #"{"size":3,"port":"http","when":"2026-12-07T01:02:03Z","nested":{}}"#)
            #expect(code == 201, "\(String(describing: stored))")
            #expect(stored?["spec"]?["mode"] == "Safe" && stored?["spec"]?["nested"]?["count"] == 3, "\(String(describing: stored))")
        }
    }
}
