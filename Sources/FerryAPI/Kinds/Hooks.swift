import FerryKube
import FerryRepo
import Foundation

/// A command exec'd (through the API server's `pods/exec`) in a container of each pod an
/// application's label selector picks, or each pod of one of its components: to flush and lock
/// a database around a backup's snapshot cut, or to check or warm it up once a restore brought
/// it back.
public struct ExecHook: Codable, Sendable, Equatable {
    /// Names the hook in the status.
    public var name: String
    /// The pods, in the plan's namespace (a cluster plan's: in each of its namespaces; a
    /// Restore's: where it restores to). With `component`, only that component's pods it picks.
    public var podSelector: LabelSelectorSpec?
    /// The hook belongs to one component of the application (a Helm release, a VirtualMachine,
    /// a claim; a Restore's: as backed up): it runs in that component's pods (those its workloads
    /// select, its VirtualMachines run in, or that mount the claim). At least one of
    /// `podSelector` and `component` is given.
    public var component: ApplicationComponent?
    /// The container (default: the pod's first container).
    public var container: String?
    /// The argv, exec'd as is (`["sh", "-c", "..."]` for a shell).
    public var command: [String]
    /// How long the command may run in each pod (default 30).
    public var timeoutSeconds: Int?
    /// A failure (non-zero exit, timeout, no such pod or container) fails the Backup (Fail,
    /// the default, pre hooks only: nothing is cut) or is recorded and the Backup goes on (Continue).
    public var onError: OnError?
    /// One pod after the other (Sequential, the default) or all at once (Parallel).
    public var mode: Mode?
    /// Post-restore hooks: how long to wait for the selected pods to be Ready (default 300).
    public var readyTimeoutSeconds: Int?

    public enum OnError: String, Codable, Sendable, CaseIterable {
        case fail = "Fail"
        case `continue` = "Continue"
    }

    public enum Mode: String, Codable, Sendable, CaseIterable {
        case sequential = "Sequential"
        case parallel = "Parallel"
    }

    public init(
        name: String, podSelector: LabelSelectorSpec? = nil, component: ApplicationComponent? = nil, container: String? = nil,
        command: [String], timeoutSeconds: Int? = nil, onError: OnError? = nil, mode: Mode? = nil, readyTimeoutSeconds: Int? = nil
    ) {
        self.name = name
        self.podSelector = podSelector
        self.component = component
        self.container = container
        self.command = command
        self.timeoutSeconds = timeoutSeconds
        self.onError = onError
        self.mode = mode
        self.readyTimeoutSeconds = readyTimeoutSeconds
    }
}

/// A BackupPlan's hooks: `pre` run before the snapshot cut, `post` after it (always, once any
/// pre hook ran, even when a pre hook or the cut failed).
public struct BackupHooks: Codable, Sendable, Equatable {
    public var pre: [ExecHook]?
    public var post: [ExecHook]?

    public init(pre: [ExecHook]? = nil, post: [ExecHook]? = nil) {
        self.pre = pre
        self.post = post
    }
}

/// A Restore's hooks: `postRestore` run once the restored workloads' selected pods are Ready.
public struct RestoreHooks: Codable, Sendable, Equatable {
    public var postRestore: [ExecHook]?

    public init(postRestore: [ExecHook]? = nil) {
        self.postRestore = postRestore
    }
}

/// One run of a hook in one container, as a Backup's or Restore's status lists it.
public struct HookResult: Codable, Sendable, Equatable {
    public enum When: String, Codable, Sendable, CaseIterable {
        case pre = "Pre"
        case post = "Post"
        case postRestore = "PostRestore"
    }

    public enum Phase: String, Codable, Sendable, CaseIterable {
        case succeeded = "Succeeded"
        case failed = "Failed"
        case timedOut = "TimedOut"
    }

    public var hook: String
    public var when: When
    /// `namespace/name` (empty when the selector picked no pod).
    public var pod: String
    public var container: String?
    public var phase: Phase
    public var exitCode: Int?
    /// The output, its first `HookResult.outputLimit` bytes (then `…`).
    public var stdout: String?
    public var stderr: String?
    /// Why it failed, when not by its exit code.
    public var message: String?
    public var startTime: Date?
    public var seconds: Double?

    /// How much of each output stream the status keeps.
    public static let outputLimit = 1024

    public init(hook: String, when: When, pod: String, container: String? = nil, phase: Phase) {
        self.hook = hook
        self.when = when
        self.pod = pod
        self.container = container
        self.phase = phase
    }

    /// Output as the status keeps it: at most `outputLimit` bytes (cut at a character), `…` after.
    public static func truncated(_ bytes: [UInt8], cut: Bool = false) -> String? {
        guard !bytes.isEmpty else { return nil }
        var text = String(decoding: bytes.prefix(outputLimit), as: UTF8.self)
        while text.utf8.count > outputLimit { text.removeLast() }
        return bytes.count > outputLimit || cut ? text + "…" : text
    }
}
