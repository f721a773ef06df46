import FerryKube
import FerryKubeTestServer
import Foundation
import Testing

/// DefaultStorageClass admission: a claim created without a class gets the default one.
@Suite struct DefaultStorageClassTests {
    func create(_ client: KubeClient, _ name: String, spec: String) async -> JSONValue? {
        let body = #"{"apiVersion":"v1","kind":"PersistentVolumeClaim","metadata":{"name":"\#(name)"},"spec":\#(spec)}"#
        return await raw(client, "POST", "/api/v1/namespaces/default/persistentvolumeclaims", body: Array(body.utf8)).1
    }

    @Test func aClaimWithoutAClassGetsTheNewestDefaultOne() async throws {
        try await withServer { server, client in
            let request = #""accessModes":["ReadWriteOnce"],"resources":{"requests":{"storage":"1Gi"}}"#
            let before = await create(client, "before", spec: "{\(request)}")
            #expect(before?["spec"]?["storageClassName"] == nil, "no default class yet: \(before?.serializedString() ?? "")")
            try await server.load(
                yaml: """
                    apiVersion: storage.k8s.io/v1
                    kind: StorageClass
                    metadata:
                      name: old
                      creationTimestamp: "2026-01-01T00:00:00Z"
                      annotations: {storageclass.kubernetes.io/is-default-class: "true"}
                    provisioner: example.com/a
                    ---
                    apiVersion: storage.k8s.io/v1
                    kind: StorageClass
                    metadata:
                      name: new
                      creationTimestamp: "2026-06-01T00:00:00Z"
                      annotations: {storageclass.kubernetes.io/is-default-class: "true"}
                    provisioner: example.com/b
                    ---
                    apiVersion: storage.k8s.io/v1
                    kind: StorageClass
                    metadata: {name: other, creationTimestamp: "2026-09-01T00:00:00Z"}
                    provisioner: example.com/c
                    """)
            let defaulted = await create(client, "defaulted", spec: "{\(request)}")
            #expect(defaulted?["spec"]?["storageClassName"] == "new", "\(defaulted?.serializedString() ?? "")")
            let named = await create(client, "named", spec: #"{\#(request),"storageClassName":"other"}"#)
            #expect(named?["spec"]?["storageClassName"] == "other")
            let none = await create(client, "none", spec: #"{\#(request),"storageClassName":""}"#)
            #expect(none?["spec"]?["storageClassName"] == "", "\"\" asks for no class and stays")
        }
    }
}
