import FerryKube
import Foundation
import Testing

@testable import FerryKubeTestServer

/// A tiny protobuf writer for building envelopes the way client-go encodes them.
struct ProtoWriter {
    var bytes: [UInt8] = []

    mutating func varint(_ value: UInt64) {
        var v = value
        while v >= 0x80 {
            bytes.append(UInt8(v & 0x7F) | 0x80)
            v >>= 7
        }
        bytes.append(UInt8(v))
    }

    mutating func field(_ number: Int, _ payload: [UInt8]) {
        varint(UInt64(number << 3 | 2))
        varint(UInt64(payload.count))
        bytes += payload
    }

    mutating func field(_ number: Int, _ text: String) { field(number, Array(text.utf8)) }

    mutating func varintField(_ number: Int, _ value: UInt64) {
        varint(UInt64(number << 3))
        varint(value)
    }

    static func message(_ build: (inout ProtoWriter) -> Void) -> [UInt8] {
        var writer = ProtoWriter()
        build(&writer)
        return writer.bytes
    }

    static func entry(_ key: String, _ value: [UInt8]) -> [UInt8] {
        message {
            $0.field(1, key); $0.field(2, value)
        }
    }
}

@Suite struct ProtobufEnvelopeTests {
    func helmSecretEnvelope(release: [UInt8]) -> [UInt8] {
        let meta = ProtoWriter.message { m in
            m.field(1, "sh.helm.release.v1.demo.v1")
            m.field(2, "") // proto3 sends empty strings
            m.field(3, "apps")
            m.field(6, "")
            m.field(11, ProtoWriter.entry("owner", Array("helm".utf8)))
            m.field(11, ProtoWriter.entry("status", Array("pending-install".utf8)))
            m.field(12, ProtoWriter.entry("note", Array("x".utf8)))
            m.field(
                13,
                ProtoWriter.message { o in
                    o.field(1, "ConfigMap"); o.field(3, "owner"); o.field(4, "uid-1"); o.field(5, "v1"); o.varintField(6, 1)
                })
            m.field(14, "example.com/finalizer")
        }
        let secret = ProtoWriter.message { s in
            s.field(1, meta)
            s.field(2, ProtoWriter.entry("release", release))
            s.field(3, "helm.sh/release.v1")
            s.varintField(5, 1)
        }
        let unknown = ProtoWriter.message { u in
            u.field(
                1,
                ProtoWriter.message { t in
                    t.field(1, "v1"); t.field(2, "Secret")
                })
            u.field(2, secret)
            u.field(3, "")
            u.field(4, "")
        }
        return [0x6B, 0x38, 0x73, 0x00] + unknown
    }

    @Test func decodesASecretAsHelmSendsIt() throws {
        let payload: [UInt8] = [0, 1, 2, 255]
        let object = try ProtobufEnvelope.decode(helmSecretEnvelope(release: payload))
        #expect(object["kind"] == "Secret" && object["apiVersion"] == "v1")
        #expect(object["type"] == "helm.sh/release.v1")
        #expect(object["immutable"] == true)
        #expect(object["data"]?["release"] == .string(Data(payload).base64EncodedString()))
        let metadata = try #require(object["metadata"])
        #expect(metadata["name"] == "sh.helm.release.v1.demo.v1" && metadata["namespace"] == "apps")
        #expect(metadata["generateName"] == nil && metadata["resourceVersion"] == nil, "empty proto3 strings are absent")
        #expect(metadata["labels"] == ["owner": "helm", "status": "pending-install"])
        #expect(metadata["annotations"] == ["note": "x"])
        #expect(
            metadata["ownerReferences"] == [["kind": "ConfigMap", "name": "owner", "uid": "uid-1", "apiVersion": "v1", "controller": true]])
        #expect(metadata["finalizers"] == ["example.com/finalizer"])
    }

    @Test func decodesConfigMapsAndNamespaces() throws {
        let configMap =
            [0x6B, 0x38, 0x73, 0x00]
            + ProtoWriter.message { u in
                u.field(
                    1,
                    ProtoWriter.message { t in
                        t.field(1, "v1"); t.field(2, "ConfigMap")
                    })
                u.field(
                    2,
                    ProtoWriter.message { c in
                        c.field(1, ProtoWriter.message { $0.field(1, "cm") })
                        c.field(2, ProtoWriter.entry("a", Array("b".utf8)))
                        c.field(3, ProtoWriter.entry("bin", [0xFF]))
                    })
            }
        let decoded = try ProtobufEnvelope.decode(configMap)
        #expect(decoded["data"] == ["a": "b"] && decoded["binaryData"] == ["bin": "/w=="])
        let namespace =
            [0x6B, 0x38, 0x73, 0x00]
            + ProtoWriter.message { u in
                u.field(
                    1,
                    ProtoWriter.message { t in
                        t.field(1, "v1"); t.field(2, "Namespace")
                    })
                u.field(2, ProtoWriter.message { n in n.field(1, ProtoWriter.message { $0.field(1, "team") }) })
            }
        #expect(try ProtobufEnvelope.decode(namespace)["metadata"]?["name"] == "team")
    }

    @Test(arguments: [
        [UInt8]([1, 2, 3]), [0x6B, 0x38, 0x73, 0x00, 0x0A, 0x05, 0x01], [0x6B, 0x38, 0x73, 0x00, 0x0F],
        [0x6B, 0x38, 0x73, 0x00]
            + ProtoWriter.message { u in
                u.field(
                    1,
                    ProtoWriter.message { t in
                        t.field(1, "apps/v1"); t.field(2, "Deployment")
                    })
            },
    ])
    func rejectsMalformedOrUnsupportedEnvelopes(bytes: [UInt8]) {
        #expect(throws: ProtobufEnvelope.DecodeError.self) { try ProtobufEnvelope.decode(bytes) }
    }

    @Test func serverAcceptsProtobufCreatesAndUpdates() async throws {
        try await withServer { server, client in
            let envelope = helmSecretEnvelope(release: Array("H4sI".utf8))
            let (created, _) = await raw(
                client, "POST", "/api/v1/namespaces/apps/secrets", body: envelope, contentType: "application/vnd.kubernetes.protobuf")
            #expect(created == 404, "the namespace does not exist yet")
            try await server.load(yaml: "apiVersion: v1\nkind: Namespace\nmetadata: {name: apps}")
            let (status, body) = await raw(
                client, "POST", "/api/v1/namespaces/apps/secrets", body: envelope, contentType: "application/vnd.kubernetes.protobuf")
            #expect(status == 201)
            #expect(body?["metadata"]?["labels"]?["owner"] == "helm" && body?["metadata"]?["uid"] != nil)
            // An update with an empty resourceVersion (what helm sends) is unconditional for Secrets.
            let (updated, _) = await raw(
                client, "PUT", "/api/v1/namespaces/apps/secrets/sh.helm.release.v1.demo.v1", body: envelope,
                contentType: "application/vnd.kubernetes.protobuf")
            #expect(updated == 200)
        }
    }
}

@Suite struct StrategicMergePatchTests {
    @Test func mergesKubectlThreeWayPatches() throws {
        let live: JSONValue = [
            "metadata": ["labels": ["a": "1", "b": "2"], "finalizers": ["x"]],
            "spec": [
                "template": [
                    "spec": [
                        "containers": [
                            [
                                "name": "web", "image": "web:1", "ports": [["containerPort": 80, "name": "http"]],
                                "env": [["name": "A", "value": "1"]],
                            ],
                            ["name": "sidecar", "image": "side:1"],
                        ],
                        "volumes": [["name": "data", "emptyDir": [:]]],
                    ]
                ]
            ],
        ]
        // Shaped like `kubectl apply` output: ordering directive, deletions, additions.
        let patch = try JSONValue(
            parsing: #"""
                {"metadata":{"labels":{"b":null,"c":"3"},"finalizers":["y"]},
                 "spec":{"template":{"spec":{
                   "$setElementOrder/containers":[{"name":"sidecar"},{"name":"web"}],
                   "containers":[{"name":"web","image":"web:2","env":[{"name":"B","value":"2"}],
                                  "$setElementOrder/env":[{"name":"B"},{"name":"A"}]},
                                 {"name":"sidecar","$patch":"delete"},{"name":"new","image":"new:1"}],
                   "volumes":[{"name":"data","$retainKeys":["name","hostPath"],"hostPath":{"path":"/d"}}]}}}}
                """#)
        let result = try StrategicMergePatch.apply(patch, to: live)
        #expect(result["metadata"]?["labels"] == ["a": "1", "c": "3"])
        #expect(result["metadata"]?["finalizers"] == ["x", "y"])
        let containers = result["spec"]?["template"]?["spec"]?["containers"]?.arrayValue ?? []
        #expect(containers.map { $0["name"]! } == ["web", "new"])
        #expect(containers[0]["image"] == "web:2")
        #expect(containers[0]["ports"] == [["containerPort": 80, "name": "http"]])
        #expect(containers[0]["env"] == [["name": "B", "value": "2"], ["name": "A", "value": "1"]])
        #expect(result["spec"]?["template"]?["spec"]?["volumes"] == [["name": "data", "hostPath": ["path": "/d"]]])
    }

    @Test func replaceAndErrors() throws {
        let live: JSONValue = ["spec": ["ports": [["port": 80], ["port": 443]], "selector": ["a": "b"]]]
        let replaced = try StrategicMergePatch.apply(["spec": ["selector": ["$patch": "replace", "c": "d"]]], to: live)
        #expect(replaced["spec"]?["selector"] == ["c": "d"])
        let ports = try StrategicMergePatch.apply(["spec": ["ports": [["port": 443, "name": "tls"]]]], to: live)
        #expect(ports["spec"]?["ports"] == [["port": 80], ["port": 443, "name": "tls"]])
        #expect(throws: StrategicMergePatch.PatchError.self) { try StrategicMergePatch.apply(["spec": ["$patch": "explode"]], to: live) }
        #expect(throws: StrategicMergePatch.PatchError.self) {
            try StrategicMergePatch.apply(["spec": ["ports": [["name": "x"]]]], to: live)
        }
    }
}
