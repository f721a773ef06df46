import FerryAPI
import FerryKube
import Foundation

/// A hook with `onError: Fail` that failed: the job fails with it.
struct HookFailure: Error, CustomStringConvertible {
    var description: String
}

/// Runs exec hooks in the pods their selectors pick, through `pods/exec` (PodExec), and records
/// each run in one `HookResult` per pod (output truncated to a KiB). A hook whose selector picks
/// no pod, a pod that is not running, a command that exits non-zero or outlives its timeout is a
/// failure; with `onError: Fail` (the default) a sequential hook stops at its first failed pod
/// and the hooks after it do not run.
struct HookRunner: Sendable {
    let client: KubeClient
    let log: @Sendable (String) -> Void
    /// The application's components, for hooks that name one.
    var components: ComponentPods?

    struct Outcome: Sendable {
        var results: [HookResult] = []
        /// Why the hooks stopped (a failed `Fail` hook).
        var failure: String?
        /// Failures of `Continue` hooks.
        var warnings: [String] = []
    }

    /// Runs `hooks` one after the other in the pods of `namespaces`.
    func run(_ hooks: [ExecHook], when: HookResult.When, namespaces: [String], owner: String) async -> Outcome {
        var outcome = Outcome()
        for (index, hook) in hooks.enumerated() {
            let results = await run(hook, when: when, namespaces: namespaces, owner: owner, field: "[\(index)]")
            outcome.results += results
            let failed = results.filter { $0.phase != .succeeded }
            guard let first = failed.first else { continue }
            let reason = Self.reason(first)
            if hook.onError == .continue {
                outcome.warnings += failed.map { "hook \(hook.name) failed\(Self.where_($0)) (onError: Continue): \(Self.reason($0))" }
            } else {
                outcome.failure = "hook \(hook.name) failed\(Self.where_(first)): \(reason)"
                break
            }
        }
        return outcome
    }

    static func where_(_ result: HookResult) -> String {
        result.pod.isEmpty ? "" : " in pod \(result.pod)\(result.container.map { " container \($0)" } ?? "")"
    }

    static func reason(_ result: HookResult) -> String {
        switch result.phase {
        case .timedOut: return result.message ?? "timed out"
        default:
            var text = result.exitCode.map { "exit code \($0)" } ?? (result.message ?? "failed")
            if result.exitCode != nil, let stderr = result.stderr?.split(separator: "\n").first { text += ": \(stderr)" }
            return text
        }
    }

    /// The pods a hook picks (by its selector, of its component), each with its namespace.
    func pods(_ hook: ExecHook, namespaces: [String], owner: String, field: String) async throws -> [KubeObject] {
        guard hook.podSelector != nil || hook.component != nil else {
            throw ClusterError.invalidSpec(object: owner, field: "hooks\(field)", message: "give a podSelector, a component or both")
        }
        let selector = try hook.podSelector?.selector(object: owner, field: "hooks\(field).podSelector")
        let resource = try await client.resource(apiVersion: "v1", kind: "Pod")
        var pods: [KubeObject] = []
        for namespace in namespaces {
            pods += try await client.listAll(resource, namespace: namespace, labelSelector: selector?.description).sorted {
                $0.name < $1.name
            }
        }
        if let component = hook.component {
            guard let components, components.holds(component) else {
                throw ClusterError.invalidSpec(
                    object: owner, field: "hooks\(field).component", message: "\(component) is not part of the application")
            }
            pods = pods.filter(components.podFilter(component))
        }
        return pods
    }

    /// Why a hook's pods are not known: its spec, or the API server.
    static func podsProblem(_ error: any Error) -> String {
        error is ClusterError ? "\(error)" : "cannot list its pods: \(error)"
    }

    /// Runs one hook in each pod it selects now.
    func run(_ hook: ExecHook, when: HookResult.When, namespaces: [String], owner: String, field: String) async -> [HookResult] {
        let pods: [KubeObject]
        do {
            pods = try await self.pods(hook, namespaces: namespaces, owner: owner, field: field)
        } catch {
            var result = HookResult(hook: hook.name, when: when, pod: "", phase: .failed)
            result.message = Self.podsProblem(error)
            return [result]
        }
        return await run(hook, when: when, in: pods)
    }

    /// Runs one hook in the given pods.
    func run(_ hook: ExecHook, when: HookResult.When, in pods: [KubeObject]) async -> [HookResult] {
        guard !pods.isEmpty else {
            var result = HookResult(hook: hook.name, when: when, pod: "", phase: .failed)
            result.message =
                switch hook.component {
                case nil: "no pod matches its podSelector"
                case let component?: "no pod of \(component)" + (hook.podSelector == nil ? " is there" : " matches its podSelector")
                }
            return [result]
        }
        if hook.mode == .parallel {
            return await withTaskGroup(of: (Int, HookResult).self) { group in
                for (index, pod) in pods.enumerated() { group.addTask { (index, await exec(hook, when: when, pod: pod)) } }
                var results: [(Int, HookResult)] = []
                for await result in group { results.append(result) }
                return results.sorted { $0.0 < $1.0 }.map(\.1)
            }
        }
        var results: [HookResult] = []
        for pod in pods {
            let result = await exec(hook, when: when, pod: pod)
            results.append(result)
            if result.phase != .succeeded && hook.onError != .continue { break }
        }
        return results
    }

    /// Execs the hook's command in one pod.
    func exec(_ hook: ExecHook, when: HookResult.When, pod: KubeObject) async -> HookResult {
        let namespace = pod.namespace ?? ""
        let container = hook.container ?? pod["spec"]?["containers"]?[0]?["name"]?.stringValue
        var result = HookResult(hook: hook.name, when: when, pod: "\(namespace)/\(pod.name)", container: container, phase: .failed)
        let start = Date()
        let started = ContinuousClock.now
        result.startTime = start
        let phase = pod["status"]?["phase"]?.stringValue ?? "Pending"
        guard phase == "Running" else {
            result.message = "the pod is not running (phase \(phase))"
            return result
        }
        let timeout = max(1, hook.timeoutSeconds ?? 30)
        do throws(PodExecError) {
            let output = try await PodExec(client: client).run(
                namespace: namespace, pod: pod.name, container: container, command: hook.command, timeout: .seconds(timeout),
                outputLimit: HookResult.outputLimit + 1)
            result.exitCode = output.exitCode.map(Int.init)
            result.stdout = HookResult.truncated(output.stdout, cut: output.stdoutTruncated)
            result.stderr = HookResult.truncated(output.stderr, cut: output.stderrTruncated)
            result.phase = output.succeeded ? .succeeded : .failed
            if !output.succeeded && output.exitCode == nil { result.message = output.message }
        } catch .timedOut(let partial) {
            result.phase = .timedOut
            result.stdout = HookResult.truncated(partial.stdout, cut: partial.stdoutTruncated)
            result.stderr = HookResult.truncated(partial.stderr, cut: partial.stderrTruncated)
            result.message = "did not end within \(timeout)s (timeoutSeconds)"
        } catch {
            result.message = "\(error)"
        }
        result.seconds = ((ContinuousClock.now - started) / .milliseconds(1)).rounded() / 1000
        log(
            "hook \(hook.name) (\(when.rawValue)) in \(result.pod): \(result.phase.rawValue)"
                + (result.exitCode.map { ", exit code \($0)" } ?? "")
        )
        return result
    }
}

/// A Backup's hooks around its snapshot cut: `pre` before it; `post` after it, exactly once,
/// whenever `pre` ran (also when a pre hook failed or the cut did). Results go into the
/// Backup's status as they come.
actor BackupHookBracket {
    let runner: HookRunner
    let hooks: BackupHooks
    let namespaces: [String]
    let backup: Backup
    let status: StatusWriter
    private(set) var results: [HookResult] = []
    private(set) var warnings: [String] = []
    private var preRan = false
    private var postRan = false

    init(runner: HookRunner, hooks: BackupHooks?, namespaces: [String], backup: Backup, status: StatusWriter) {
        self.runner = runner
        self.hooks = hooks ?? BackupHooks()
        self.namespaces = namespaces
        self.backup = backup
        self.status = status
    }

    nonisolated var isEmpty: Bool { (hooks.pre ?? []).isEmpty && (hooks.post ?? []).isEmpty }

    /// Runs the pre hooks; a failed `Fail` hook runs the post hooks and throws.
    func pre() async throws {
        guard !isEmpty else { return }
        preRan = true
        let outcome = await runner.run(hooks.pre ?? [], when: .pre, namespaces: namespaces, owner: backup.label)
        await record(outcome)
        if let failure = outcome.failure {
            await post()
            throw HookFailure(description: "\(failure); nothing was backed up")
        }
    }

    /// Runs the post hooks (once, when the pre hooks ran), whatever the job's task is doing:
    /// a cancelled Backup still unlocks its application.
    func post() async {
        guard preRan, !postRan else { return }
        postRan = true
        let runner = self.runner
        let hooks = self.hooks.post ?? []
        let namespaces = self.namespaces
        let owner = backup.label
        let outcome = await Task { await runner.run(hooks, when: .post, namespaces: namespaces, owner: owner) }.value
        await record(outcome)
        if let failure = outcome.failure { warnings.append("post \(failure)") }
    }

    private func record(_ outcome: HookRunner.Outcome) async {
        results += outcome.results
        warnings += outcome.warnings
        let all = results
        _ = try? await status.update(backup) { $0.hooks = all }
    }
}

/// A Restore's post-restore hooks: each waits (up to its `readyTimeoutSeconds`, default 300)
/// until its selector picks at least one pod and every pod it picks is Ready, then runs in them.
struct PostRestoreHooks: Sendable {
    let runner: HookRunner
    let poll: Duration

    func run(_ hooks: [ExecHook], namespaces: [String], owner: String) async -> HookRunner.Outcome {
        var outcome = HookRunner.Outcome()
        for (index, hook) in hooks.enumerated() {
            let deadline = ContinuousClock.now + .seconds(max(0, hook.readyTimeoutSeconds ?? 300))
            var pods: [KubeObject] = []
            var listError: String?
            while true {
                do {
                    pods = try await runner.pods(hook, namespaces: namespaces, owner: owner, field: ".postRestore[\(index)]")
                    listError = nil
                } catch {
                    listError = HookRunner.podsProblem(error)
                    if error is ClusterError { break } // the hook's spec: waiting changes nothing
                }
                if listError == nil && !pods.isEmpty && pods.allSatisfy(Self.isReady) { break }
                if ContinuousClock.now >= deadline || Task.isCancelled { break }
                try? await Task.sleep(for: poll)
            }
            var results: [HookResult]
            if let listError {
                var result = HookResult(hook: hook.name, when: .postRestore, pod: "", phase: .failed)
                result.message = listError
                results = [result]
            } else {
                let ready = pods.filter(Self.isReady)
                results = await runner.run(hook, when: .postRestore, in: ready)
                if !ready.isEmpty {
                    for pod in pods where !Self.isReady(pod) {
                        var result = HookResult(
                            hook: hook.name, when: .postRestore, pod: "\(pod.namespace ?? "")/\(pod.name)", phase: .failed)
                        result.message = "the pod was not Ready within \(hook.readyTimeoutSeconds ?? 300)s (readyTimeoutSeconds)"
                        results.append(result)
                    }
                } else if !pods.isEmpty {
                    results = [HookResult(hook: hook.name, when: .postRestore, pod: "", phase: .failed)]
                    results[0].message = "no pod it selects was Ready within \(hook.readyTimeoutSeconds ?? 300)s (readyTimeoutSeconds)"
                }
            }
            outcome.results += results
            let failed = results.filter { $0.phase != .succeeded }
            guard let first = failed.first else { continue }
            if hook.onError == .continue {
                outcome.warnings += failed.map {
                    "hook \(hook.name) failed\(HookRunner.where_($0)) (onError: Continue): \(HookRunner.reason($0))"
                }
            } else {
                outcome.failure = "hook \(hook.name) failed\(HookRunner.where_(first)): \(HookRunner.reason(first))"
                break
            }
        }
        return outcome
    }

    static func isReady(_ pod: KubeObject) -> Bool {
        pod["status"]?["phase"]?.stringValue == "Running"
            && (pod["status"]?["conditions"]?.arrayValue ?? []).contains {
                $0["type"]?.stringValue == "Ready" && $0["status"]?.stringValue == "True"
            }
    }
}
