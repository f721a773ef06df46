import FerryKube
import FerryKubeTestServer
import Foundation
import Testing

/// Deletion as a real cluster does it: claims in use stay Terminating (pvc-protection), and
/// foreground deletion keeps the owner until its dependents are gone.
@Suite struct DeletionTests {
    func json(_ text: String) -> [UInt8] { Array(text.utf8) }

    @Test func aClaimInUseStaysTerminatingUntilItsPodGoes() async throws {
        try await withServer { server, client in
            let claims = "/api/v1/namespaces/default/persistentvolumeclaims"
            let (created, claim) = await raw(
                client, "POST", claims,
                body: json(
                    #"{"apiVersion":"v1","kind":"PersistentVolumeClaim","metadata":{"name":"data"},"#
                        + #""spec":{"accessModes":["ReadWriteOnce"],"resources":{"requests":{"storage":"1Gi"}}}}"#
                ))
            #expect(created == 201)
            #expect(claim?["metadata"]?["finalizers"] == ["kubernetes.io/pvc-protection"])
            try await server.load(
                yaml: """
                    apiVersion: v1
                    kind: Pod
                    metadata: {name: db, namespace: default}
                    spec: {containers: [{name: db, image: postgres}], volumes: [{name: data, persistentVolumeClaim: {claimName: data}}]}
                    status: {phase: Running}
                    """)
            let (deleted, terminating) = await raw(client, "DELETE", "\(claims)/data")
            #expect(deleted == 200 && terminating?["metadata"]?["deletionTimestamp"] != nil)
            #expect(
                await server.object(apiVersion: "v1", kind: "PersistentVolumeClaim", namespace: "default", name: "data") != nil,
                "kept while the pod uses it")
            _ = await raw(client, "DELETE", "/api/v1/namespaces/default/pods/db")
            #expect(
                await server.object(apiVersion: "v1", kind: "PersistentVolumeClaim", namespace: "default", name: "data") == nil,
                "gone with its last user")
        }
    }

    @Test func foregroundDeletionKeepsTheOwnerUntilItsDependentsAreGone() async throws {
        try await withServer { server, client in
            let maps = "/api/v1/namespaces/default/configmaps"
            let (_, owner) = await raw(
                client, "POST", maps, body: json(#"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"owner"}}"#))
            let uid = try #require(owner?["metadata"]?["uid"]?.stringValue)
            let dependent =
                #"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"dependent","finalizers":["example.com/hold"],"#
                + #""ownerReferences":[{"apiVersion":"v1","kind":"ConfigMap","name":"owner","uid":"\#(uid)"}]}}"#
            #expect(await raw(client, "POST", maps, body: json(dependent)).0 == 201)
            let (code, marked) = await raw(client, "DELETE", "\(maps)/owner", query: [("propagationPolicy", "Foreground")])
            #expect(code == 200 && marked?["metadata"]?["finalizers"] == ["foregroundDeletion"], "\(String(describing: marked))")
            #expect(
                await server.object(apiVersion: "v1", kind: "ConfigMap", namespace: "default", name: "owner") != nil,
                "kept while a dependent exists")
            var held = try #require(await server.object(apiVersion: "v1", kind: "ConfigMap", namespace: "default", name: "dependent")).json
            #expect(held["metadata"]?["deletionTimestamp"] != nil, "the dependent is being deleted")
            held.setValue(nil, at: ["metadata", "finalizers"])
            #expect(await raw(client, "PUT", "\(maps)/dependent", body: held.serialized()).0 == 200)
            #expect(await server.object(apiVersion: "v1", kind: "ConfigMap", namespace: "default", name: "dependent") == nil)
            #expect(
                await server.object(apiVersion: "v1", kind: "ConfigMap", namespace: "default", name: "owner") == nil,
                "the owner goes after its dependents")
        }
    }
}
