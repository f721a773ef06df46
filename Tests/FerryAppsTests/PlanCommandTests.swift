import FerryKube
import FerryKubeTestServer
import FerryKubeTestSupport
import FerryTestSupport
import Foundation
import Testing

/// Runs `ferry` (waiting asynchronously: the in-process server needs the cooperative pool).
func run(_ ferry: FerryProcess, _ arguments: [String]) async throws -> ChildProcess.Result {
    try await ferry.run(arguments)
}

/// `ferry plan` run as the real binary against the test API server.
@Suite struct PlanCommandTests {
    @Test func plansALabelSelectedApplication() async throws {
        try await withKubeTestCluster { cluster in
            try await cluster.server.load(yaml: SelectionDiscoveryTests.shop)
            try await cluster.server.load(
                yaml: """
                    apiVersion: v1
                    kind: Pod
                    metadata: {name: manual, namespace: shop, uid: pod-manual, labels: {tier: db}}
                    spec:
                      nodeName: node-9
                      containers: [{name: c, image: i}]
                      volumes: [{name: d, persistentVolumeClaim: {claimName: uploads}}]
                    status: {phase: Running}
                    """)
            let kubeconfig = "\(cluster.directory)/kubeconfig"
            let ferry = FerryProcess(password: nil)
            let result = try await run(ferry, ["plan", "--kubeconfig", kubeconfig, "-n", "shop", "--selector", "tier=db", "--json"])
            #expect(result.succeeded, "\(result)")
            let plan = try JSONValue(parsing: result.stdout)
            #expect(plan["application"] == "label selector tier=db" && plan["scope"] == "namespace shop")
            let names = (plan["components"]?.arrayValue ?? []).map { "\($0["kind"]!.stringValue!)/\($0["name"]!.stringValue!)" }
            #expect(
                names == [
                    "PersistentVolume/pv-uploads", "PersistentVolumeClaim/uploads", "Pod/manual", "Secret/db-password",
                    "StorageClass/csi-hostpath-sc",
                ])
            let volume = try #require(plan["volumes"]?[0])
            #expect(
                volume["sizeBytes"] == .int(1 << 30) && volume["nodes"] == ["node-1", "node-9"]
                    && volume["csiDriver"] == "hostpath.csi.k8s.io")
            // No snapshot class here: read from a pod's mount (both pods' paths are listed).
            #expect(
                volume["read"] == "host path /var/lib/kubelet/pods/pod-uid-web/volumes/kubernetes.io~csi/pv-uploads/mount on node node-1")
            #expect(volume["hostPaths"]?.arrayValue?.count == 2)
            #expect(
                plan["restoreOrder"] == [
                    "Secrets and ConfigMaps (including Helm release storage)", "storage classes, volumes and claims (data restored)",
                    "workloads",
                ])
            #expect(!result.stdout.contains("hunter2"), "Secret contents are never printed")

            let text = try await run(ferry, ["plan", "--kubeconfig", kubeconfig, "-n", "shop", "--selector", "tier=db"])
            #expect(text.succeeded)
            #expect(
                text.stdout.contains(
                    "PersistentVolumeClaim shop/uploads  1.0 GiB  Filesystem  class csi-hostpath-sc  "
                        + "CSI hostpath.csi.k8s.io  node node-1,node-9"
                ))
            #expect(text.stdout.contains("claim of volume d of Pod shop/manual"))
        }
    }

    @Test func reportsBadInputClearly() async throws {
        try await withKubeTestCluster { cluster in
            let ferry = FerryProcess(password: nil)
            let kubeconfig = "\(cluster.directory)/kubeconfig"
            let badSelector = try await run(ferry, ["plan", "--kubeconfig", kubeconfig, "--selector", "app in (", "-n", "default"])
            #expect(badSelector.status == 64 && badSelector.stderr.contains("--selector: invalid selector \"app in (\""), "\(badSelector)")
            let two = try await run(ferry, ["plan", "--kubeconfig", kubeconfig, "--vm", "a", "--namespace", "b"])
            #expect(two.status == 64 && two.stderr.contains("exactly one of"))
            let nothing = try await run(ferry, ["plan", "--kubeconfig", kubeconfig, "--helm-release", "ghost", "-n", "default"])
            #expect(nothing.status == 1 && nothing.stderr.contains("Helm release ghost has no components in namespace default"))
            let missing = try await run(ferry, ["plan", "--kubeconfig", "\(cluster.directory)/absent", "--vm", "x"])
            #expect(missing.status == 1 && missing.stderr.contains("kubeconfig \(cluster.directory)/absent does not exist"))
            // A kubeconfig pointing at a port nobody listens on.
            let url = cluster.server.secureURL
            await cluster.server.shutdown()
            let unreachable = try await run(ferry, ["plan", "--kubeconfig", kubeconfig, "--vm", "x", "-n", "default"])
            #expect(unreachable.status == 1 && unreachable.stderr.contains("cannot reach the API server \(url)"), "\(unreachable)")
        }
    }
}
