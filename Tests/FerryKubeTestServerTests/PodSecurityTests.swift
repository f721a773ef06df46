import FerryKube
import FerryKubeTestServer
import Foundation
import Testing

/// Pod Security admission: the namespace's `pod-security.kubernetes.io/enforce` level decides
/// which Pods are created; the refusals and warnings are worded as kube-apiserver words them.
@Suite struct PodSecurityTests {
    /// A namespace `name` enforcing `level` (no label when nil).
    func namespace(_ client: KubeClient, _ name: String, enforce level: String?, version: String? = nil) async throws {
        var labels: [String: String] = [:]
        if let level { labels["pod-security.kubernetes.io/enforce"] = level }
        if let version { labels["pod-security.kubernetes.io/enforce-version"] = version }
        let metadata: JSONValue = ["name": .string(name), "labels": JSONValue(stringMap: labels)]
        let body: JSONValue = ["apiVersion": "v1", "kind": "Namespace", "metadata": metadata]
        let (status, _) = await raw(client, "POST", "/api/v1/namespaces", body: body.serialized())
        #expect(status == 201)
    }

    /// A pod of one container "c"; `pod` and `container` are merged into its spec and container.
    func pod(_ name: String, pod: JSONValue = [:], container: JSONValue = [:]) -> [UInt8] {
        let base: JSONValue = ["name": "c", "image": "busybox"]
        var spec: JSONValue = ["containers": [base.merging(container)]]
        spec = spec.merging(pod)
        let object: JSONValue = ["apiVersion": "v1", "kind": "Pod", "metadata": ["name": .string(name)], "spec": spec]
        return object.serialized()
    }

    /// What a container must set to pass restricted.
    static let restrictedContainer: JSONValue = [
        "securityContext": [
            "allowPrivilegeEscalation": false, "runAsNonRoot": true, "capabilities": ["drop": ["ALL"]],
            "seccompProfile": ["type": "RuntimeDefault"],
        ]
    ]

    func create(_ client: KubeClient, _ namespace: String, _ body: [UInt8]) async -> (Int, JSONValue?) {
        await raw(client, "POST", "/api/v1/namespaces/\(namespace)/pods", body: body)
    }

    /// The Forbidden Status kube-apiserver answers for pod `name`.
    func forbidden(_ name: String, _ policy: String, _ failed: String) -> JSONValue {
        [
            "kind": "Status", "apiVersion": "v1", "metadata": [:], "status": "Failure", "reason": "Forbidden", "code": 403,
            "message": .string(#"pods "\#(name)" is forbidden: violates PodSecurity "\#(policy)": \#(failed)"#),
            "details": ["name": .string(name), "kind": "pods"],
        ]
    }

    @Test func withoutALabelANamespaceIsPrivileged() async throws {
        try await withServer { _, client in
            try await namespace(client, "open", enforce: nil)
            let hostile = pod("root", pod: ["hostNetwork": true, "hostPID": true], container: ["securityContext": ["privileged": true]])
            #expect(await create(client, "open", hostile).0 == 201)
            try await namespace(client, "explicit", enforce: "privileged")
            #expect(await create(client, "explicit", hostile).0 == 201)
        }
    }

    @Test func baselineRefusesHostAccessAndAdmitsTheDefaultPod() async throws {
        try await withServer { _, client in
            try await namespace(client, "base", enforce: "baseline")
            #expect(await create(client, "base", pod("plain")).0 == 201)
            let violating = pod(
                "host",
                pod: [
                    "hostNetwork": true, "hostIPC": true,
                    "volumes": [["name": "root", "hostPath": ["path": "/"]], ["name": "scratch", "emptyDir": [:]]],
                    "securityContext": ["sysctls": [["name": "kernel.msgmax", "value": "1"]], "seccompProfile": ["type": "Unconfined"]],
                ],
                container: [
                    "ports": [["containerPort": 80, "hostPort": 8080]],
                    "securityContext": ["privileged": true, "capabilities": ["add": ["SYS_ADMIN", "CHOWN"]], "procMount": "Unmasked"],
                ])
            let (status, body) = await create(client, "base", violating)
            #expect(status == 403)
            let failed = [
                #"non-default capabilities (container "c" must not include "SYS_ADMIN" in securityContext.capabilities.add)"#,
                "host namespaces (hostIPC, hostNetwork)",
                #"hostPath volumes (volume "root")"#,
                #"hostPort (container "c" uses hostPort 8080)"#,
                #"privileged (container "c" must not set securityContext.privileged=true)"#,
                #"procMount (container "c" must not set securityContext.procMount to "Unmasked")"#,
                #"seccompProfile (pod must not set securityContext.seccompProfile.type to "Unconfined")"#,
                "forbidden sysctls (kernel.msgmax)",
            ].joined(separator: ", ")
            #expect(body == forbidden("host", "baseline:latest", failed))
            #expect(await raw(client, "GET", "/api/v1/namespaces/base/pods/host").0 == 404)
        }
    }

    @Test func baselineRefusesUnconfinedProfilesAndHostProcesses() async throws {
        try await withServer { _, client in
            try await namespace(client, "base", enforce: "baseline")
            let object: JSONValue = [
                "apiVersion": "v1", "kind": "Pod",
                "metadata": ["name": "loose", "annotations": ["container.apparmor.security.beta.kubernetes.io/c": "unconfined"]],
                "spec": [
                    "securityContext": [
                        "appArmorProfile": ["type": "Unconfined"], "seLinuxOptions": ["type": "spc_t", "user": "root"],
                        "windowsOptions": ["hostProcess": true],
                    ],
                    "containers": [["name": "c", "image": "busybox", "securityContext": ["seLinuxOptions": ["type": "container_t"]]]],
                ],
            ]
            let (status, refused) = await create(client, "base", object.serialized())
            #expect(status == 403)
            let failed = [
                #"forbidden AppArmor profiles (pod and annotation must not set AppArmor profile type to "Unconfined", "#
                    + #""container.apparmor.security.beta.kubernetes.io/c="unconfined"")"#,
                #"seLinuxOptions (pod set forbidden securityContext.seLinuxOptions: type "spc_t"; user may not be set)"#,
                "hostProcess (pod must not set securityContext.windowsOptions.hostProcess=true)",
            ].joined(separator: ", ")
            #expect(refused == forbidden("loose", "baseline:latest", failed))
        }
    }

    @Test func baselineChecksInitAndEphemeralContainersAndNamesTheVersion() async throws {
        try await withServer { _, client in
            try await namespace(client, "base", enforce: "baseline", version: "v1.31")
            let body = pod(
                "init",
                pod: [
                    "initContainers": [["name": "setup", "image": "busybox", "securityContext": ["privileged": true]]],
                    "ephemeralContainers": [["name": "debug", "image": "busybox", "securityContext": ["privileged": true]]],
                ])
            let (status, refused) = await create(client, "base", body)
            #expect(status == 403)
            let failed = #"privileged (containers "setup", "debug" must not set securityContext.privileged=true)"#
            #expect(refused == forbidden("init", "baseline:v1.31", failed))
        }
    }

    @Test func restrictedRequiresTheHardenedSecurityContext() async throws {
        try await withServer { _, client in
            try await namespace(client, "locked", enforce: "restricted")
            let compliant = pod(
                "hardened", pod: ["volumes": [["name": "claim", "persistentVolumeClaim": ["claimName": "data"]]]],
                container: Self.restrictedContainer)
            #expect(await create(client, "locked", compliant).0 == 201)
            // Pod-level runAsNonRoot and seccomp cover every container; NET_BIND_SERVICE may be added.
            let podLevel = pod(
                "pod-level",
                pod: ["securityContext": ["runAsNonRoot": true, "runAsUser": 65534, "seccompProfile": ["type": "RuntimeDefault"]]],
                container: [
                    "securityContext": ["allowPrivilegeEscalation": false, "capabilities": ["drop": ["ALL"], "add": ["NET_BIND_SERVICE"]]]
                ])
            #expect(await create(client, "locked", podLevel).0 == 201)

            let (status, body) = await create(client, "locked", pod("c"))
            #expect(status == 403)
            let failed = [
                #"allowPrivilegeEscalation != false (container "c" must set securityContext.allowPrivilegeEscalation=false)"#,
                #"unrestricted capabilities (container "c" must set securityContext.capabilities.drop=["ALL"])"#,
                #"runAsNonRoot != true (pod or container "c" must set securityContext.runAsNonRoot=true)"#,
                #"seccompProfile (pod or container "c" must set securityContext.seccompProfile.type to "RuntimeDefault" or "Localhost")"#,
            ].joined(separator: ", ")
            #expect(body == forbidden("c", "restricted:latest", failed))
        }
    }

    @Test func restrictedRefusesRootCapabilitiesAndInlineVolumes() async throws {
        try await withServer { _, client in
            try await namespace(client, "locked", enforce: "restricted")
            let body = pod(
                "root",
                pod: [
                    "securityContext": ["runAsUser": 0, "seccompProfile": ["type": "RuntimeDefault"]],
                    "volumes": [
                        ["name": "share", "nfs": ["server": "nfs", "path": "/"]], ["name": "config", "configMap": ["name": "c"]],
                    ],
                ],
                container: [
                    "securityContext": [
                        "allowPrivilegeEscalation": false, "runAsNonRoot": true, "capabilities": ["drop": ["ALL"], "add": ["SYS_TIME"]],
                    ]
                ])
            let (status, refused) = await create(client, "locked", body)
            #expect(status == 403)
            let failed = [
                #"unrestricted capabilities (container "c" must not include "SYS_TIME" in securityContext.capabilities.add)"#,
                "runAsUser=0 (pod must not set runAsUser=0)",
                #"restricted volume types (volume "share" uses restricted volume type "nfs")"#,
            ].joined(separator: ", ")
            #expect(refused == forbidden("root", "restricted:latest", failed))
        }
    }

    @Test func aWorkloadWhosePodTemplateViolatesIsAdmittedWithAWarning() async throws {
        try await withServer { _, client in
            try await namespace(client, "locked", enforce: "restricted")
            let deployment: JSONValue = [
                "apiVersion": "apps/v1", "kind": "Deployment", "metadata": ["name": "web"],
                "spec": [
                    "selector": ["matchLabels": ["app": "web"]],
                    "template": ["metadata": ["labels": ["app": "web"]], "spec": ["containers": [["name": "web", "image": "nginx"]]]],
                ],
            ]
            let response = try await client.send("POST", "/apis/apps/v1/namespaces/locked/deployments", body: deployment.serialized())
            #expect(response.status == 201)
            let failed = [
                #"allowPrivilegeEscalation != false (container \"web\" must set securityContext.allowPrivilegeEscalation=false)"#,
                #"unrestricted capabilities (container \"web\" must set securityContext.capabilities.drop=[\"ALL\"])"#,
                #"runAsNonRoot != true (pod or container \"web\" must set securityContext.runAsNonRoot=true)"#,
                #"seccompProfile (pod or container \"web\" must set securityContext.seccompProfile.type to "#
                    + #"\"RuntimeDefault\" or \"Localhost\")"#,
            ].joined(separator: ", ")
            #expect(response.headers["Warning"] == #"299 - "would violate PodSecurity \"restricted:latest\": \#(failed)""#)

            // A compliant template, and a write that leaves the template alone, carry no warning.
            var hardened = deployment
            hardened.setValue("hardened", at: ["metadata", "name"])
            let container: JSONValue = ["name": "web", "image": "nginx"]
            hardened.setValue([container.merging(Self.restrictedContainer)], at: ["spec", "template", "spec", "containers"])
            let quiet = try await client.send("POST", "/apis/apps/v1/namespaces/locked/deployments", body: hardened.serialized())
            #expect(quiet.status == 201 && quiet.headers["Warning"] == nil)
            let relabel = try await client.send(
                "PATCH", "/apis/apps/v1/namespaces/locked/deployments/web", body: Array(#"{"metadata":{"labels":{"tier":"front"}}}"#.utf8),
                contentType: "application/merge-patch+json")
            #expect(relabel.status == 200 && relabel.headers["Warning"] == nil)
        }
    }

    @Test func anEphemeralContainerAddedToARunningPodIsChecked() async throws {
        try await withServer { _, client in
            try await namespace(client, "locked", enforce: "restricted")
            // Seccomp on the pod covers the debug container; the rest it must set itself.
            let seccomp: JSONValue = ["securityContext": ["seccompProfile": ["type": "RuntimeDefault"]]]
            let hardened = pod("app", pod: seccomp, container: Self.restrictedContainer)
            #expect(await create(client, "locked", hardened).0 == 201)
            let debug = Array(#"{"spec":{"ephemeralContainers":[{"name":"debug","image":"busybox"}]}}"#.utf8)
            let (status, refused) = await raw(
                client, "PATCH", "/api/v1/namespaces/locked/pods/app/ephemeralcontainers", body: debug,
                contentType: "application/strategic-merge-patch+json")
            #expect(status == 403)
            let failed = [
                #"allowPrivilegeEscalation != false (container "debug" must set securityContext.allowPrivilegeEscalation=false)"#,
                #"unrestricted capabilities (container "debug" must set securityContext.capabilities.drop=["ALL"])"#,
                #"runAsNonRoot != true (pod or container "debug" must set securityContext.runAsNonRoot=true)"#,
            ].joined(separator: ", ")
            #expect(refused == forbidden("app", "restricted:latest", failed))
        }
    }

    @Test func fixturesLoadWithoutAdmission() async throws {
        try await withServer { server, client in
            try await namespace(client, "locked", enforce: "restricted")
            let loaded = try await server.load(
                yaml: """
                    apiVersion: v1
                    kind: Pod
                    metadata: {name: db-0, namespace: locked}
                    spec: {containers: [{name: db, image: postgres}]}
                    """)
            #expect(loaded.count == 1)
            // An update that leaves spec and annotations alone is not evaluated either.
            let relabel = await raw(
                client, "PATCH", "/api/v1/namespaces/locked/pods/db-0", body: Array(#"{"metadata":{"labels":{"app":"db"}}}"#.utf8),
                contentType: "application/merge-patch+json")
            #expect(relabel.0 == 200)
        }
    }
}
