import FerryKube
import FerryKubeTestServer
import FerryKubeTestSupport
import Foundation
import Synchronization
import Testing

/// Backup hooks exec'd (pods/exec, with the chart's RBAC) in the application's pods around the
/// snapshot cut, and post-restore hooks once the restored pods are Ready. The API test server
/// runs the commands in the sandbox directory standing for each container.
extension AgentTests {
    static func hookPod(_ name: String, namespace: String, app: String, container: String) -> String {
        """
        apiVersion: v1
        kind: Pod
        metadata: {name: \(name), namespace: \(namespace), labels: {app: \(app)}}
        spec:
          nodeName: node-1
          securityContext: {runAsNonRoot: true, seccompProfile: {type: RuntimeDefault}}
          containers:
          - name: \(container)
            image: postgres
            env: [{name: ROLE, value: primary}]
            securityContext: {allowPrivilegeEscalation: false, capabilities: {drop: [ALL]}}
        status: {phase: Running, conditions: [{type: Ready, status: "True"}]}
        """
    }

    /// The pre hook has run when the CSI snapshot is cut, the post hook has not; the post hook
    /// runs right after; both are in the Backup's status with their output.
    @Test func preAndPostHooksBracketTheSnapshotCut() async throws {
        try await withKubeTestCluster { cluster in
            let setup = try await CoordinatorTests.Setup.make(cluster)
            let live = "\(cluster.directory)/csi-h1.img"
            let original = try writeDevice(live, seed: 102)
            let hostRoot = "\(cluster.directory)/host"
            try await installCSIVolume(setup)
            try await cluster.server.load(yaml: Self.hookPod("db-0", namespace: "db", app: "db", container: "postgres"))
            try await cluster.server.load(
                yaml: """
                    apiVersion: ferry.dev/v1alpha1
                    kind: BackupPlan
                    metadata: {name: hooked, namespace: db}
                    spec:
                      target: local
                      components: {labelSelector: {matchLabels: {app: db}}}
                      hooks:
                        pre: [{name: lock, podSelector: {matchLabels: {app: db}}, container: postgres,
                               command: [sh, -c, "echo locked $ROLE > pre; echo locked $ROLE"]}]
                        post: [{name: unlock, podSelector: {matchLabels: {app: db}}, command: [sh, -c, "touch post; echo unlocked"]}]
                    """)
            let sandbox = cluster.server.execDirectory(namespace: "db", pod: "db-0", container: "postgres")
            let atCut = Mutex<[String]?>(nil)
            let run = try runCSI(setup, live: live, hostRoot: hostRoot) { _, _, _ in
                let files = ((try? FileManager.default.contentsOfDirectory(atPath: sandbox)) ?? []).sorted()
                atCut.withLock { $0 = files }
            }
            defer { run.stop() }

            let backup = try await setup.backup("hooked-1", plan: "hooked", namespace: "db")
            #expect(backup["status"]?["phase"] == "Completed", "\(backup.json.serializedString())")
            #expect(atCut.withLock { $0 } == ["pre"], "the pre hook ran before the cut, the post hook after")
            #expect(FileManager.default.fileExists(atPath: "\(sandbox)/post"))
            #expect(try String(contentsOfFile: "\(sandbox)/pre", encoding: .utf8) == "locked primary\n")
            let hooks = backup["status"]?["hooks"]?.arrayValue ?? []
            #expect(
                hooks.map { "\($0["when"]?.stringValue ?? "") \($0["hook"]?.stringValue ?? "") \($0["phase"]?.stringValue ?? "")" }
                    == ["Pre lock Succeeded", "Post unlock Succeeded"])
            #expect(hooks.first?["stdout"] == "locked primary\n" && hooks.first?["pod"] == "db/db-0" && hooks.first?["exitCode"] == 0)
            #expect(hooks.last?["container"] == "postgres", "the pod's first container by default")
            #expect(try await restoredVolume(setup, snapshot: try #require(backup["status"]?["snapshot"]?.stringValue)) == original)
        }
    }
}

extension CoordinatorTests.Setup {
    /// A Restore `copy` of the latest snapshot into `namespace` (no waits for readiness) with
    /// `postRestore` hooks (YAML), once it has ended.
    func restoreLatest(into namespace: String, postRestore hooks: String) async throws -> KubeObject {
        let hooks = hooks.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }.joined(separator: " ")
        try await cluster.server.load(
            yaml: """
                apiVersion: ferry.dev/v1alpha1
                kind: Restore
                metadata: {name: copy, namespace: \(namespace)}
                spec:
                  target: local
                  snapshot: latest
                  waitTimeoutSeconds: 0
                  hooks:
                    postRestore: \(hooks)
                """)
        return try await finished("Restore", namespace: namespace, name: "copy")
    }
}

extension CoordinatorTests {
    static let hookedApplication = """
        apiVersion: v1
        kind: ConfigMap
        metadata: {name: settings, namespace: shop, labels: {app: web}}
        data: {mode: fast}
        """

    /// A failed pre hook with onError Fail fails the Backup before anything is stored, and the
    /// post hook still runs; Continue hooks record their failures (exit code, timeout, output
    /// cut to a KiB) and the Backup goes on. A Restore's post-restore hook runs once the
    /// restored pod is Ready.
    @Test func hookFailuresTimeoutsAndPostRestoreHooks() async throws {
        try await withKubeTestCluster { cluster in
            let setup = try await Setup.make(cluster)
            try await cluster.server.load(yaml: Self.applicationNamespace("shop"))
            try await setup.target(in: "shop")
            try await cluster.server.load(yaml: Self.hookedApplication)
            try await cluster.server.load(yaml: AgentTests.hookPod("web-0", namespace: "shop", app: "web", container: "app"))
            let sandbox = cluster.server.execDirectory(namespace: "shop", pod: "web-0", container: "app")
            try await cluster.server.load(
                yaml: """
                    apiVersion: ferry.dev/v1alpha1
                    kind: BackupPlan
                    metadata: {name: failing, namespace: shop}
                    spec:
                      target: local
                      components: {labelSelector: {matchLabels: {app: web}}}
                      hooks:
                        pre:
                        - {name: flush, podSelector: {matchLabels: {app: web}}, command: [sh, -c, "echo cannot flush >&2; exit 3"]}
                        - {name: never, podSelector: {matchLabels: {app: web}}, command: [sh, -c, "touch never"]}
                        post: [{name: unlock, podSelector: {matchLabels: {app: web}}, command: [sh, -c, "echo ran > post-after-failure"]}]
                    ---
                    apiVersion: ferry.dev/v1alpha1
                    kind: BackupPlan
                    metadata: {name: lenient, namespace: shop}
                    spec:
                      target: local
                      components: {labelSelector: {matchLabels: {app: web}}}
                      hooks:
                        pre:
                        - {name: chatty, podSelector: {matchLabels: {app: web}}, onError: Continue,
                           command: [sh, -c, "head -c 3000 /dev/zero | tr '\\\\0' y; exit 1"]}
                        - {name: slow, podSelector: {matchLabels: {app: web}}, onError: Continue, timeoutSeconds: 10,
                           command: [sh, -c, "echo started; exec sleep 30"]}
                        - {name: nobody, podSelector: {matchLabels: {app: none}}, onError: Continue, command: ["true"]}
                        post: [{name: unlock, podSelector: {matchLabels: {app: web}}, mode: Parallel, command: [sh, -c, "touch post"]}]
                    """)
            let coordinator = try setup.coordinator(identity: "alpha")
            defer { coordinator.kill() }

            let failed = try await setup.backup("failing-1", plan: "failing", namespace: "shop")
            #expect(failed["status"]?["phase"] == "Failed", "\(failed.json.serializedString())")
            #expect(failed["status"]?["snapshot"] == nil)
            let errors = (failed["status"]?["errors"]?.arrayValue ?? []).compactMap(\.stringValue)
            #expect(
                errors.contains { $0.contains("hook flush failed in pod shop/web-0 container app: exit code 3: cannot flush") }, "\(errors)"
            )
            #expect(FileManager.default.fileExists(atPath: "\(sandbox)/post-after-failure"), "the post hook runs once a pre hook ran")
            #expect(!FileManager.default.fileExists(atPath: "\(sandbox)/never"), "hooks after a failed Fail hook do not run")
            let failedHooks = failed["status"]?["hooks"]?.arrayValue ?? []
            #expect(failedHooks.map { $0["phase"]?.stringValue ?? "" } == ["Failed", "Succeeded"])
            #expect(failedHooks.first?["exitCode"] == 3 && failedHooks.first?["stderr"] == "cannot flush\n")

            let lenient = try await setup.backup("lenient-1", plan: "lenient", namespace: "shop")
            #expect(lenient["status"]?["phase"] == "Completed", "\(lenient.json.serializedString())")
            let hooks = lenient["status"]?["hooks"]?.arrayValue ?? []
            #expect(
                hooks.map { "\($0["hook"]?.stringValue ?? "") \($0["phase"]?.stringValue ?? "")" }
                    == ["chatty Failed", "slow TimedOut", "nobody Failed", "unlock Succeeded"])
            let chatty = hooks.first?["stdout"]?.stringValue ?? ""
            #expect(chatty == String(repeating: "y", count: 1024) + "…", "output cut to a KiB: \(chatty.count)")
            #expect(hooks.dropFirst().first?["stdout"] == "started\n")
            #expect(hooks.dropFirst().first?["message"] == "did not end within 10s (timeoutSeconds)")
            #expect(hooks.dropFirst(2).first?["message"] == "no pod matches its podSelector")
            let warnings = (lenient["status"]?["warnings"]?.arrayValue ?? []).compactMap(\.stringValue)
            #expect(warnings.filter { $0.contains("(onError: Continue)") }.count == 3, "\(warnings)")

            // The post-restore hook waits for the restored pod to be Ready (played here: the
            // scheduler's nodeName, then the kubelet's status).
            try await cluster.server.load(yaml: Self.applicationNamespace("copy"))
            try await setup.target(in: "copy")
            let client = cluster.client
            let kubelet = Task {
                let pods = try await client.resource(apiVersion: "v1", kind: "Pod")
                while true {
                    if var pod = try? await client.get(pods, namespace: "copy", name: "web-0") {
                        try await Task.sleep(for: .milliseconds(500))
                        pod.json.setValue("node-1", at: ["spec", "nodeName"])
                        pod = try await client.update(pods, pod)
                        pod.json.setValue(["phase": "Running", "conditions": [["type": "Ready", "status": "True"]]], at: ["status"])
                        _ = try await client.updateStatus(pods, pod)
                        return
                    }
                    try await Task.sleep(for: .milliseconds(100))
                }
            }
            defer { kubelet.cancel() }
            let restore = try await setup.restoreLatest(
                into: "copy",
                postRestore: """
                    [{name: check, podSelector: {matchLabels: {app: web}}, readyTimeoutSeconds: 60,
                      command: [sh, -c, "echo $HOSTNAME > restored; echo checked"]}]
                    """)
            #expect(restore["status"]?["phase"] == "Completed", "\(restore.json.serializedString())")
            let restored = restore["status"]?["hooks"]?.arrayValue ?? []
            #expect(restored.count == 1 && restored.first?["when"] == "PostRestore" && restored.first?["phase"] == "Succeeded")
            #expect(restored.first?["pod"] == "copy/web-0" && restored.first?["stdout"] == "checked\n")
            let copySandbox = cluster.server.execDirectory(namespace: "copy", pod: "web-0", container: "app")
            #expect(try String(contentsOfFile: "\(copySandbox)/restored", encoding: .utf8) == "web-0\n")
            try await kubelet.value
        }
    }
}

extension CoordinatorTests {
    static func helmDeployment(_ name: String, namespace: String) -> String {
        """
        apiVersion: apps/v1
        kind: Deployment
        metadata:
          name: \(name)
          namespace: \(namespace)
          labels: {tier: shop}
          annotations: {meta.helm.sh/release-name: \(name), meta.helm.sh/release-namespace: \(namespace)}
        spec:
          replicas: 1
          selector: {matchLabels: {app: \(name)}}
          template:
            metadata: {labels: {app: \(name)}}
            spec: {containers: [{name: main, image: \(name)}]}
        """
    }

    /// A hook declared for one component runs in that component's pods only (those its
    /// Deployment selects), narrowed by a podSelector when both are given; one naming a component
    /// the application does not hold fails saying so. A post-restore hook of a component runs in
    /// the pods of the restored component, in the namespace it was restored to.
    @Test func componentHooksRunInTheirComponentsPods() async throws {
        try await withKubeTestCluster { cluster in
            let setup = try await Setup.make(cluster)
            for namespace in ["shop", "copy"] {
                try await cluster.server.load(yaml: Self.applicationNamespace(namespace))
                try await setup.target(in: namespace)
                for app in ["db", "web"] {
                    try await cluster.server.load(yaml: AgentTests.hookPod("\(app)-0", namespace: namespace, app: app, container: "main"))
                }
            }
            try await cluster.server.load(yaml: Self.helmDeployment("db", namespace: "shop"))
            try await cluster.server.load(yaml: Self.helmDeployment("web", namespace: "shop"))
            try await cluster.server.load(
                yaml: """
                    apiVersion: ferry.dev/v1alpha1
                    kind: BackupPlan
                    metadata: {name: shop, namespace: shop}
                    spec:
                      target: local
                      components: {labelSelector: {matchLabels: {tier: shop}}}
                      hooks:
                        pre:
                        - {name: lock, component: {kind: HelmRelease, name: db}, command: [sh, -c, "echo $HOSTNAME > locked"]}
                        - {name: ghost, component: {kind: VirtualMachine, name: ghost}, onError: Continue, command: ["true"]}
                        post:
                        - {name: unlock, component: {kind: HelmRelease, name: db}, podSelector: {matchLabels: {app: web}},
                           onError: Continue, command: ["true"]}
                    """)
            let coordinator = try setup.coordinator(identity: "alpha")
            defer { coordinator.kill() }

            let backup = try await setup.backup("shop-1", plan: "shop", namespace: "shop")
            #expect(backup["status"]?["phase"] == "Completed", "\(backup.json.serializedString())")
            let sandbox = { (namespace: String, app: String) in
                cluster.server.execDirectory(namespace: namespace, pod: "\(app)-0", container: "main") + "/locked"
            }
            #expect(try String(contentsOfFile: sandbox("shop", "db"), encoding: .utf8) == "db-0\n")
            #expect(!FileManager.default.fileExists(atPath: sandbox("shop", "web")), "the web release's pod is not the db release's")
            let hooks = backup["status"]?["hooks"]?.arrayValue ?? []
            #expect(
                hooks.map { "\($0["hook"]?.stringValue ?? "") \($0["pod"]?.stringValue ?? "") \($0["phase"]?.stringValue ?? "")" }
                    == ["lock shop/db-0 Succeeded", "ghost  Failed", "unlock  Failed"])
            #expect(
                hooks.dropFirst().first?["message"]?.stringValue?.hasSuffix("VirtualMachine ghost is not part of the application") == true)
            #expect(hooks.last?["message"] == "no pod of HelmRelease db matches its podSelector")

            let restore = try await setup.restoreLatest(
                into: "copy",
                postRestore: """
                    [{name: check, component: {kind: HelmRelease, name: db, namespace: shop}, readyTimeoutSeconds: 60,
                      command: [sh, -c, "echo $HOSTNAME > locked"]}]
                    """)
            #expect(restore["status"]?["phase"] == "Completed", "\(restore.json.serializedString())")
            let restored = restore["status"]?["hooks"]?.arrayValue ?? []
            #expect(restored.map { $0["pod"]?.stringValue ?? "" } == ["copy/db-0"], "\(restored)")
            #expect(try String(contentsOfFile: sandbox("copy", "db"), encoding: .utf8) == "db-0\n")
            #expect(!FileManager.default.fileExists(atPath: sandbox("copy", "web")))
        }
    }
}
