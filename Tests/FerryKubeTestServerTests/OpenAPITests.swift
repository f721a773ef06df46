import FerryHTTP
import FerryKube
import FerryKubeTestServer
import Foundation
import Testing

/// OpenAPI v3 as kube-apiserver publishes it: an index of group-versions whose URLs carry the
/// document's hash, one document per group-version with its paths (each PATCH naming the
/// `fieldValidation` parameter, which is how kubectl and helm learn that the server validates
/// fields) and the schemas of its kinds with everything they refer to, CRDs included and kept
/// current as they change.
@Suite struct OpenAPITests {
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
            subresources: {status: {}}
            schema:
              openAPIV3Schema:
                type: object
                properties:
                  spec:
                    type: object
                    properties:
                      size: {type: integer}
        """

    func index(_ client: KubeClient) async throws -> [String: String] {
        let response = try await client.send("GET", "/openapi/v3")
        let paths = try JSONValue(parsing: response.body)["paths"]?.objectValue ?? [:]
        return paths.compactMapValues { $0["serverRelativeURL"]?.stringValue }
    }

    func document(_ client: KubeClient, _ url: String) async throws -> (JSONValue, HTTPHeaders) {
        let parts = url.split(separator: "?", maxSplits: 1).map(String.init)
        let query =
            parts.count > 1
            ? parts[1].split(separator: "&").map { pair -> (String, String) in
                let kv = pair.split(separator: "=", maxSplits: 1).map(String.init)
                return (kv[0], kv.count > 1 ? kv[1] : "")
            } : []
        let response = try await client.send("GET", parts[0], query: query)
        return (try JSONValue(parsing: response.body), response.headers)
    }

    /// Every `$ref` of the document names a schema the document has.
    func danglingReferences(_ document: JSONValue) -> [String] {
        let schemas = document["components"]?["schemas"]?.objectValue ?? [:]
        var references: [String] = []
        func visit(_ value: JSONValue) {
            switch value {
            case .object(let members):
                for (key, member) in members {
                    if key == "$ref", let text = member.stringValue { references.append(text) } else { visit(member) }
                }
            case .array(let items): items.forEach(visit)
            default: break
            }
        }
        visit(document)
        return references.filter { schemas[String($0.dropFirst("#/components/schemas/".count))] == nil }
    }

    @Test func theIndexListsEveryGroupVersionWithItsDocumentsHash() async throws {
        try await withServer { _, client in
            let urls = try await index(client)
            let apps = try #require(urls["apis/apps/v1"])
            #expect(urls["api/v1"]?.hasPrefix("/openapi/v3/api/v1?hash=") == true)
            #expect(urls["apis/storage.k8s.io/v1"] != nil && urls["apis/rbac.authorization.k8s.io/v1"] != nil)
            let hash = String(apps.dropFirst("/openapi/v3/apis/apps/v1?hash=".count))
            #expect(hash.count == 128 && hash.allSatisfy { "0123456789ABCDEF".contains($0) }, "SHA-512, upper-case hex: \(hash)")

            let (doc, headers) = try await document(client, apps)
            #expect(headers["Etag"] == "\"\(hash)\"")
            #expect(headers["Cache-Control"] == "public, immutable")
            #expect(doc["openapi"] == "3.0.0")
            let patch = try #require(doc["paths"]?["/apis/apps/v1/namespaces/{namespace}/deployments/{name}"]?["patch"])
            #expect(patch["x-kubernetes-group-version-kind"] == ["group": "apps", "kind": "Deployment", "version": "v1"])
            #expect(patch["operationId"] == "patchAppsV1NamespacedDeployment")
            let parameters = (patch["parameters"]?.arrayValue ?? []).compactMap { $0["name"]?.stringValue }
            #expect(parameters.contains("fieldValidation") && parameters.contains("force"))
            let patchTypes = Set(patch["requestBody"]?["content"]?.objectValue?.keys.map { $0 } ?? [])
            #expect(patchTypes.contains("application/strategic-merge-patch+json") && patchTypes.contains("application/apply-patch+yaml"))
            #expect(
                doc["paths"]?["/apis/apps/v1/namespaces/{namespace}/deployments/{name}/scale"]?["get"]?["x-kubernetes-group-version-kind"]?[
                    "kind"] == "Scale")

            let deployment = try #require(doc["components"]?["schemas"]?["io.k8s.api.apps.v1.Deployment"])
            #expect(deployment["x-kubernetes-group-version-kind"] == [["group": "apps", "kind": "Deployment", "version": "v1"]])
            #expect(deployment["properties"]?["spec"]?["allOf"] == [["$ref": "#/components/schemas/io.k8s.api.apps.v1.DeploymentSpec"]])
            let containers = doc["components"]?["schemas"]?["io.k8s.api.core.v1.PodSpec"]?["properties"]?["containers"]
            #expect(containers?["x-kubernetes-list-type"] == "map" && containers?["x-kubernetes-list-map-keys"] == ["name"])
            #expect(containers?["x-kubernetes-patch-merge-key"] == "name")
            #expect(
                doc["components"]?["schemas"]?["io.k8s.api.core.v1.Container"]?["properties"]?["image"]?["type"] == "string",
                "types are OpenAPI's, not JSON Schema's [T, null]")
            #expect(danglingReferences(doc).isEmpty, "\(danglingReferences(doc).prefix(5))")

            let (core, _) = try await document(client, try #require(urls["api/v1"]))
            #expect(core["paths"]?["/api/v1/namespaces/{namespace}/persistentvolumeclaims/{name}/status"]?["patch"] != nil)
            #expect(core["paths"]?["/api/v1/persistentvolumes/{name}"]?["patch"]?["operationId"] == "patchCoreV1PersistentVolume")
            #expect(danglingReferences(core).isEmpty)
        }
    }

    @Test func customResourcesArePublishedAndFollowTheirCRD() async throws {
        try await withServer { server, client in
            #expect(try await index(client)["apis/example.com/v1"] == nil)
            try await server.load(yaml: Self.crd)
            let first = try #require(try await index(client)["apis/example.com/v1"])
            let (doc, _) = try await document(client, first)
            #expect(doc["info"]?["title"] == "Kubernetes CRD Swagger")
            let widget = try #require(doc["components"]?["schemas"]?["com.example.v1.Widget"])
            #expect(widget["x-kubernetes-group-version-kind"] == [["group": "example.com", "kind": "Widget", "version": "v1"]])
            #expect(widget["properties"]?["spec"]?["properties"]?["size"]?["type"] == "integer")
            #expect(
                widget["properties"]?["metadata"]?["allOf"] == [
                    ["$ref": "#/components/schemas/io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"]
                ])
            #expect(
                doc["components"]?["schemas"]?["com.example.v1.WidgetList"]?["properties"]?["items"]?["items"]?["$ref"]
                    == "#/components/schemas/com.example.v1.Widget")
            let patch = try #require(doc["paths"]?["/apis/example.com/v1/namespaces/{namespace}/widgets/{name}"]?["patch"])
            let patchTypes = Set(patch["requestBody"]?["content"]?.objectValue?.keys.map { $0 } ?? [])
            #expect(
                patchTypes == ["application/apply-patch+yaml", "application/json-patch+json", "application/merge-patch+json"],
                "custom resources take no strategic merge patch")
            #expect((patch["parameters"]?.arrayValue ?? []).contains { $0["name"] == "fieldValidation" })
            #expect(danglingReferences(doc).isEmpty, "\(danglingReferences(doc).prefix(5))")

            let crds = try await client.resource(apiVersion: "apiextensions.k8s.io/v1", kind: "CustomResourceDefinition")
            var crd = try await client.get(crds, namespace: nil, name: "widgets.example.com").json
            var versions = crd["spec"]?["versions"]?.arrayValue ?? []
            versions[0].setValue(["type": "string"], at: ["schema", "openAPIV3Schema", "properties", "spec", "properties", "colour"])
            crd.setValue(.array(versions), at: ["spec", "versions"])
            _ = try await client.update(crds, KubeObject(crd))
            let second = try #require(try await index(client)["apis/example.com/v1"])
            #expect(second != first, "a changed CRD changes the document's hash")
            let (updated, _) = try await document(client, second)
            #expect(updated["components"]?["schemas"]?["com.example.v1.Widget"]?["properties"]?["spec"]?["properties"]?["colour"] != nil)
            let (stale, _) = await raw(
                client, "GET", "/openapi/v3/apis/example.com/v1", query: [("hash", String(first.split(separator: "=").last!))])
            #expect(stale == 301, "a stale hash is redirected to the current document")

            try await client.delete(crds, namespace: nil, name: "widgets.example.com")
            #expect(try await index(client)["apis/example.com/v1"] == nil)
            let (gone, _) = await raw(client, "GET", "/openapi/v3/apis/example.com/v1")
            #expect(gone == 404)
        }
    }

    /// `/openapi/v2`: the same paths and schemas as one swagger 2.0 document, in gnostic protobuf
    /// for client-go (which asks for it when OpenAPI v3 has no PATCH for a kind, or validates a
    /// List), JSON otherwise.
    @Test func openAPIV2IsTheSameSpecInSwaggerForm() async throws {
        try await withServer { server, client in
            try await server.load(yaml: Self.crd)
            let response = try await client.send("GET", "/openapi/v2")
            let swagger = try JSONValue(parsing: response.body)
            #expect(swagger["swagger"] == "2.0")
            let deployment = swagger["definitions"]?["io.k8s.api.apps.v1.Deployment"]
            #expect(deployment?["properties"]?["spec"]?["$ref"] == "#/definitions/io.k8s.api.apps.v1.DeploymentSpec")
            #expect(deployment?["x-kubernetes-group-version-kind"] == [["group": "apps", "kind": "Deployment", "version": "v1"]])
            #expect(swagger["definitions"]?["io.k8s.apimachinery.pkg.util.intstr.IntOrString"]?["type"] == "string")
            #expect(
                swagger["definitions"]?["com.example.v1.Widget"]?["properties"]?["metadata"]?["$ref"]
                    == "#/definitions/io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta")
            let patch = swagger["paths"]?["/apis/apps/v1/namespaces/{namespace}/deployments/{name}"]?["patch"]
            #expect(patch?["consumes"]?.arrayValue?.contains("application/strategic-merge-patch+json") == true)
            let parameters = patch?["parameters"]?.arrayValue ?? []
            #expect(
                parameters.first?["in"] == "body"
                    && parameters.first?["schema"]?["$ref"] == "#/definitions/io.k8s.apimachinery.pkg.apis.meta.v1.Patch")
            #expect(parameters.contains { $0["name"] == "fieldValidation" && $0["type"] == "string" })
            #expect(swagger["paths"]?["/apis/authorization.k8s.io/v1/selfsubjectaccessreviews"]?["post"] != nil)

            let protobuf = try await client.send(
                "GET", "/openapi/v2", accept: "application/com.github.proto-openapi.spec.v2@v1.0+protobuf")
            #expect(protobuf.headers["Content-Type"] == "application/com.github.proto-openapi.spec.v2.v1.0+protobuf")
            #expect(Array(protobuf.body.prefix(5)) == [0x0A, 0x03] + Array("2.0".utf8), "Document.swagger, field 1")
            #expect(protobuf.body.count > 100_000)
        }
    }
}
