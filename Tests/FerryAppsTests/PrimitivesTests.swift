import FerryKube
import FerryKubeTestServer
import Foundation
import Testing

@testable import FerryApps

@Suite struct BoundedInflaterTests {
    @Test func inflatesGzipWithinTheLimit() async throws {
        let text = Array(String(repeating: "helm release manifest\n", count: 1000).utf8)
        #expect(try BoundedInflater.inflate(try await gzip(text), limit: text.count) == text)
    }

    @Test func stopsAGzipBombAtTheLimit() async throws {
        // 128 MiB of zeros compress to about 128 KB; inflating must stop at 1 MiB.
        let bomb = try await gzip(zeros: 128 << 20)
        #expect(bomb.count < 150_000)
        #expect(throws: InflateError.tooLarge(limit: 1 << 20)) { try BoundedInflater.inflate(bomb, limit: 1 << 20) }
    }

    @Test func reportsTruncatedAndCorruptStreams() async throws {
        let good = try await gzip(Array("some data that compresses".utf8))
        #expect(throws: InflateError.truncated) { try BoundedInflater.inflate(Array(good.prefix(good.count - 12)), limit: 1 << 20) }
        // Damage the compressed data itself (the header holds a file name): the CRC catches it.
        var corrupt = good
        corrupt[good.count - 10] ^= 0xFF
        #expect(throws: InflateError.self) { try BoundedInflater.inflate(corrupt, limit: 1 << 20) }
        #expect(throws: InflateError.self) { try BoundedInflater.inflate([], limit: 10) }
    }
}

@Suite struct CaptureSanitizerTests {
    @Test func stripsWhatTheServerOwns() throws {
        let raw = KubeObject(try Fixtures.json("objects/kubectl-neat/pv1-raw.json"))
        let neat = try Fixtures.json("objects/kubectl-neat/pv1-neat.json")
        let captured = CaptureSanitizer.sanitize(raw)
        for field in ["uid", "resourceVersion", "creationTimestamp", "selfLink", "managedFields"] {
            #expect(captured.metadata[field] == nil, "\(field)")
        }
        #expect(captured["status"] == nil)
        #expect(captured["spec"]?["claimRef"]?["uid"] == nil && captured["spec"]?["claimRef"]?["resourceVersion"] == nil)
        #expect(captured["spec"]?["claimRef"]?["name"] == raw["spec"]?["claimRef"]?["name"])
        // What kubectl-neat keeps of the spec, the capture keeps too.
        #expect(captured["spec"]?["hostPath"]?["path"] == neat["spec"]?["hostPath"]?["path"])
        #expect(captured["spec"]?["capacity"] == neat["spec"]?["capacity"])
        #expect(captured.name == raw.name && captured.annotations == raw.annotations)
    }

    @Test func headlessServicesKeepClusterIPNone() {
        let headless = KubeObject(
            apiVersion: "v1", kind: "Service", namespace: "a", name: "h", body: ["spec": ["clusterIP": "None", "clusterIPs": ["None"]]])
        #expect(CaptureSanitizer.sanitize(headless)["spec"]?["clusterIP"] == "None")
        let normal = KubeObject(apiVersion: "v1", kind: "Service", namespace: "a", name: "n", body: ["spec": ["clusterIP": "10.0.0.5"]])
        #expect(CaptureSanitizer.sanitize(normal)["spec"]?["clusterIP"] == nil)
    }
}

@Suite struct RestoreOrderTests {
    func component(_ group: String, _ kind: String, _ name: String, operator isOperator: Bool = false, custom: Bool = false) -> Component {
        let reference = ObjectReference(group: group, kind: kind, namespace: "ns", name: name)
        let reason: InclusionReason = isOperator ? .operatorDeployment(installedBy: "test") : .inNamespace("ns")
        return Component(
            reference: reference, apiVersion: group.isEmpty ? "v1" : "\(group)/v1", resource: kind.lowercased() + "s", namespaced: true,
            object: KubeObject(apiVersion: "v1", kind: kind, name: name), reasons: [reason], isCustomResource: custom)
    }

    @Test func followsTheDesignOrder() {
        let components = [
            component("kubevirt.io", "VirtualMachine", "vm", custom: true),
            component("apps", "Deployment", "app"),
            component("example.com", "Widget", "w", custom: true),
            component("", "Service", "svc"),
            component("", "PersistentVolumeClaim", "data"),
            component("", "Secret", "helm-release"),
            component("rbac.authorization.k8s.io", "RoleBinding", "app-binding"),
            component("admissionregistration.k8s.io", "ValidatingWebhookConfiguration", "hook"),
            component("apps", "Deployment", "operator", operator: true),
            component("", "ServiceAccount", "operator-sa", operator: true),
            component("", "Namespace", "ns"),
            component("apiextensions.k8s.io", "CustomResourceDefinition", "widgets.example.com"),
            component("networking.k8s.io", "NetworkPolicy", "deny-all"),
        ]
        let names = RestoreOrder.steps(for: components).flatMap { $0.components.map(\.reference.name) }
        #expect(
            names == [
                "widgets.example.com", "ns", "operator-sa", "operator", "hook", "app-binding", "helm-release", "data", "svc", "deny-all",
                "w",
                "app", "vm",
            ])
    }
}
