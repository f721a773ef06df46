import FerryKube
import Foundation

/// Pod Security admission as kube-apiserver's built-in `PodSecurity` plugin applies it: the
/// namespace's `pod-security.kubernetes.io/enforce` label names a level of the Pod Security
/// Standards (privileged, baseline, restricted; no label is privileged), a Pod that fails a check
/// of that level is refused with 403, and a workload whose pod template fails one is admitted with
/// a `Warning` header.
///
/// The checks, their order and their wording follow the plugin's policy package: each failed check
/// is `reason (detail)`, and the failed checks of a pod are joined with ", ". Every version label
/// (`latest`, `v1.31`, ...) evaluates the newest checks; the version only appears in the message.
struct PodSecurity {
    /// A level of the Pod Security Standards, from unrestricted to hardened.
    enum Level: String, Sendable {
        case privileged, baseline, restricted
    }

    /// The policy a namespace enforces: a level and the version its label names.
    struct Policy: Equatable, Sendable {
        static let enforceLabel = "pod-security.kubernetes.io/enforce"
        static let enforceVersionLabel = "pod-security.kubernetes.io/enforce-version"

        var level: Level
        /// `latest`, or a `v1.N` version as the label gives it.
        var version: String

        /// The policy of a namespace with these labels. No enforce label is privileged; a level
        /// the plugin does not know is restricted (it fails closed); a version that is not
        /// `v1.N` is latest.
        init(namespaceLabels labels: [String: String]) {
            level = labels[Self.enforceLabel].map { Level(rawValue: $0) ?? .restricted } ?? .privileged
            let requested = labels[Self.enforceVersionLabel] ?? "latest"
            version = Self.isMajorMinor(requested) ? requested : "latest"
        }

        /// `restricted:latest`, as the messages quote the policy.
        var description: String { "\(level.rawValue):\(version)" }

        private static func isMajorMinor(_ version: String) -> Bool {
            guard version.hasPrefix("v1.") else { return false }
            let minor = version.dropFirst(3)
            return !minor.isEmpty && minor.allSatisfy(\.isNumber)
        }
    }

    /// One failed check: a short reason (`allowPrivilegeEscalation != false`) and what to change.
    struct Violation: Equatable, Sendable, CustomStringConvertible {
        var reason: String
        var detail: String

        var description: String { detail.isEmpty ? reason : "\(reason) (\(detail))" }
    }

    /// The pod's metadata (annotations) and spec, as stored.
    let metadata: JSONValue
    let spec: JSONValue

    init(metadata: JSONValue?, spec: JSONValue?) {
        self.metadata = metadata ?? [:]
        self.spec = spec ?? [:]
    }

    /// The pod of a Pod object, or the pod template of a workload (Deployment, ReplicaSet,
    /// StatefulSet, DaemonSet, Job, CronJob, ReplicationController, PodTemplate); nil for other kinds.
    init?(object: JSONValue, group: String, resource: String) {
        let template: JSONValue?
        switch (group, resource) {
        case ("", "pods"):
            self.init(metadata: object["metadata"], spec: object["spec"])
            return
        case ("apps", "deployments"), ("apps", "replicasets"), ("apps", "statefulsets"), ("apps", "daemonsets"),
            ("batch", "jobs"), ("", "replicationcontrollers"):
            template = object["spec"]?["template"]
        case ("batch", "cronjobs"):
            template = object["spec"]?["jobTemplate"]?["spec"]?["template"]
        case ("", "podtemplates"):
            template = object["template"]
        default:
            return nil
        }
        self.init(metadata: template?["metadata"], spec: template?["spec"])
    }

    /// Whether `other` differs in what the checks read (spec and annotations): updates that change
    /// neither (labels, status, finalizers) are not evaluated, as in the plugin.
    func differs(from other: PodSecurity) -> Bool {
        spec != other.spec || metadata["annotations"] != other.metadata["annotations"]
    }

    /// The checks of `level` this pod fails, in the plugin's order.
    func violations(at level: Level) -> [Violation] {
        let checks: [() -> Violation?]
        switch level {
        case .privileged:
            checks = []
        case .baseline:
            checks = [
                appArmorProfile, capabilitiesBaseline, hostNamespaces, hostPathVolumes, hostPorts, privileged, procMount,
                seLinuxOptions, seccompProfileBaseline, sysctls, windowsHostProcess,
            ]
        case .restricted:
            // The restricted capability, seccomp and volume checks replace their baseline forms.
            checks = [
                appArmorProfile, hostNamespaces, hostPorts, privileged, procMount, seLinuxOptions, sysctls, windowsHostProcess,
                allowPrivilegeEscalation, capabilitiesRestricted, runAsNonRoot, runAsUser, seccompProfileRestricted,
                restrictedVolumes,
            ]
        }
        return checks.compactMap { $0() }
    }

    // MARK: - What the checks read

    /// A container of any of the three lists, with its security context.
    private struct Container {
        var name: String
        var json: JSONValue
        var securityContext: JSONValue? { json["securityContext"] }
    }

    /// Init containers, containers, then ephemeral containers, the plugin's visiting order.
    private var containers: [Container] {
        ["initContainers", "containers", "ephemeralContainers"].flatMap { list in
            (spec[list]?.arrayValue ?? []).map { Container(name: $0["name"]?.stringValue ?? "", json: $0) }
        }
    }

    private var podSecurityContext: JSONValue? { spec["securityContext"] }

    /// User namespaces (`hostUsers: false`) relax the runAsNonRoot, runAsUser and procMount checks.
    private var usesUserNamespace: Bool { spec["hostUsers"]?.boolValue == false }

    // MARK: - Baseline

    private static let allowedAppArmorTypes: Set<String> = ["RuntimeDefault", "Localhost"]
    private static let appArmorAnnotationPrefix = "container.apparmor.security.beta.kubernetes.io/"

    private func appArmorProfile() -> Violation? {
        var setters: [String] = []
        var values: [String] = []
        if let type = podSecurityContext?["appArmorProfile"]?["type"]?.stringValue, !Self.allowedAppArmorTypes.contains(type) {
            setters.append("pod")
            values.append(type)
        }
        var badContainers: [String] = []
        for container in containers {
            if let type = container.securityContext?["appArmorProfile"]?["type"]?.stringValue,
                !Self.allowedAppArmorTypes.contains(type)
            {
                badContainers.append(container.name)
                values.append(type)
            }
        }
        if !badContainers.isEmpty { setters.append(Self.containers(badContainers)) }
        values = Array(Set(values)).sorted()
        let annotations = (metadata["annotations"]?.stringMap ?? [:])
            .filter { key, value in
                key.hasPrefix(Self.appArmorAnnotationPrefix) && !value.isEmpty && value != "runtime/default"
                    && !value.hasPrefix("localhost/")
            }
            .map { "\($0.key)=\(Self.quote($0.value))" }.sorted()
        if !annotations.isEmpty {
            setters.append(Self.plural("annotation", annotations.count))
            values += annotations
        }
        guard !setters.isEmpty else { return nil }
        return Violation(
            reason: Self.plural("forbidden AppArmor profile", values.count),
            detail: "\(setters.joined(separator: " and ")) must not set AppArmor profile type to \(Self.joinQuote(values))")
    }

    private func hostNamespaces() -> Violation? {
        let shared = ["hostIPC", "hostNetwork", "hostPID"].filter { spec[$0]?.boolValue == true }
        guard !shared.isEmpty else { return nil }
        return Violation(reason: "host namespaces", detail: shared.joined(separator: ", "))
    }

    private func hostPathVolumes() -> Violation? {
        let names = volumes.filter { $0["hostPath"] != nil }.map { $0["name"]?.stringValue ?? "" }
        guard !names.isEmpty else { return nil }
        return Violation(reason: "hostPath volumes", detail: "\(Self.plural("volume", names.count)) \(Self.joinQuote(names))")
    }

    private func hostPorts() -> Violation? {
        var badContainers: [String] = []
        var ports: Set<String> = []
        for container in containers {
            let used = (container.json["ports"]?.arrayValue ?? []).compactMap { $0["hostPort"]?.intValue }.filter { $0 != 0 }
            guard !used.isEmpty else { continue }
            badContainers.append(container.name)
            ports.formUnion(used.map(String.init))
        }
        guard !badContainers.isEmpty else { return nil }
        return Violation(
            reason: "hostPort",
            detail: "\(Self.containers(badContainers)) \(badContainers.count == 1 ? "uses" : "use") "
                + "\(Self.plural("hostPort", ports.count)) \(ports.sorted().joined(separator: ", "))")
    }

    private func privileged() -> Violation? {
        let names = containers.filter { $0.securityContext?["privileged"]?.boolValue == true }.map(\.name)
        guard !names.isEmpty else { return nil }
        return Violation(reason: "privileged", detail: "\(Self.containers(names)) must not set securityContext.privileged=true")
    }

    /// The containers in which `found` finds something, and all it found; nil when none.
    private func offenders(_ found: (Container) -> [String]) -> (names: [String], values: Set<String>)? {
        var names: [String] = []
        var values: Set<String> = []
        for container in containers {
            let offending = found(container)
            guard !offending.isEmpty else { continue }
            names.append(container.name)
            values.formUnion(offending)
        }
        return names.isEmpty ? nil : (names, values)
    }

    private func procMount() -> Violation? {
        guard !usesUserNamespace,
            let (names, types) = offenders({ container in
                container.securityContext?["procMount"]?.stringValue.map { $0 == "Default" ? [] : [$0] } ?? []
            })
        else { return nil }
        return Violation(
            reason: "procMount",
            detail: "\(Self.containers(names)) must not set securityContext.procMount to \(Self.joinQuote(types.sorted()))")
    }

    private static let allowedSELinuxTypes: Set<String> = ["", "container_t", "container_init_t", "container_kvm_t"]

    private func seLinuxOptions() -> Violation? {
        var badTypes: Set<String> = []
        var setsUser = false
        var setsRole = false
        func valid(_ options: JSONValue?) -> Bool {
            guard let options else { return true }
            var valid = true
            let type = options["type"]?.stringValue ?? ""
            if !Self.allowedSELinuxTypes.contains(type) {
                badTypes.insert(type)
                valid = false
            }
            if !(options["user"]?.stringValue ?? "").isEmpty {
                setsUser = true
                valid = false
            }
            if !(options["role"]?.stringValue ?? "").isEmpty {
                setsRole = true
                valid = false
            }
            return valid
        }
        var setters: [String] = []
        if !valid(podSecurityContext?["seLinuxOptions"]) { setters.append("pod") }
        let names = containers.filter { !valid($0.securityContext?["seLinuxOptions"]) }.map(\.name)
        if !names.isEmpty { setters.append(Self.containers(names)) }
        guard !setters.isEmpty else { return nil }
        var problems: [String] = []
        // As in the plugin, user and role are named only next to a forbidden type.
        if !badTypes.isEmpty {
            problems.append("\(Self.plural("type", badTypes.count)) \(Self.joinQuote(badTypes.sorted()))")
            if setsUser { problems.append("user may not be set") }
            if setsRole { problems.append("role may not be set") }
        }
        return Violation(
            reason: "seLinuxOptions",
            detail: "\(setters.joined(separator: " and ")) set forbidden securityContext.seLinuxOptions: "
                + problems.joined(separator: "; "))
    }

    /// Sysctls namespaced to the pod and isolated from the node (the newest allowed set).
    private static let allowedSysctls: Set<String> = [
        "kernel.shm_rmid_forced", "net.ipv4.ip_local_port_range", "net.ipv4.ip_unprivileged_port_start",
        "net.ipv4.tcp_syncookies", "net.ipv4.ping_group_range", "net.ipv4.ip_local_reserved_ports",
        "net.ipv4.tcp_keepalive_time", "net.ipv4.tcp_fin_timeout", "net.ipv4.tcp_keepalive_intvl",
        "net.ipv4.tcp_keepalive_probes", "net.ipv4.tcp_rmem", "net.ipv4.tcp_wmem",
    ]

    private func sysctls() -> Violation? {
        let names = (podSecurityContext?["sysctls"]?.arrayValue ?? []).compactMap { $0["name"]?.stringValue }
            .filter { !Self.allowedSysctls.contains($0) }
        guard !names.isEmpty else { return nil }
        return Violation(reason: "forbidden sysctls", detail: names.joined(separator: ", "))
    }

    private func windowsHostProcess() -> Violation? {
        var setters: [String] = []
        if podSecurityContext?["windowsOptions"]?["hostProcess"]?.boolValue == true { setters.append("pod") }
        let names = containers.filter { $0.securityContext?["windowsOptions"]?["hostProcess"]?.boolValue == true }.map(\.name)
        if !names.isEmpty { setters.append(Self.containers(names)) }
        guard !setters.isEmpty else { return nil }
        return Violation(
            reason: "hostProcess",
            detail: "\(setters.joined(separator: " and ")) must not set securityContext.windowsOptions.hostProcess=true")
    }

    /// Capabilities a container may add at baseline: the container runtime's default set.
    private static let baselineCapabilities: Set<String> = [
        "AUDIT_WRITE", "CHOWN", "DAC_OVERRIDE", "FOWNER", "FSETID", "KILL", "MKNOD", "NET_BIND_SERVICE", "SETFCAP",
        "SETGID", "SETPCAP", "SETUID", "SYS_CHROOT",
    ]

    private func capabilitiesBaseline() -> Violation? {
        guard
            let (names, added) = offenders({ container in
                (container.securityContext?["capabilities"]?["add"]?.arrayValue ?? []).compactMap(\.stringValue).filter {
                    !Self.baselineCapabilities.contains($0)
                }
            })
        else { return nil }
        return Violation(
            reason: "non-default capabilities",
            detail: "\(Self.containers(names)) must not include \(Self.joinQuote(added.sorted())) in securityContext.capabilities.add")
    }

    private func seccompProfileBaseline() -> Violation? {
        seccompProfile(requiringOne: false)
    }

    // MARK: - Restricted

    private func allowPrivilegeEscalation() -> Violation? {
        let names = containers.filter { $0.securityContext?["allowPrivilegeEscalation"]?.boolValue != false }.map(\.name)
        guard !names.isEmpty else { return nil }
        return Violation(
            reason: "allowPrivilegeEscalation != false",
            detail: "\(Self.containers(names)) must set securityContext.allowPrivilegeEscalation=false")
    }

    private func capabilitiesRestricted() -> Violation? {
        var missingDropAll: [String] = []
        var addingForbidden: [String] = []
        var forbidden: Set<String> = []
        for container in containers {
            let capabilities = container.securityContext?["capabilities"]
            let dropped = (capabilities?["drop"]?.arrayValue ?? []).compactMap(\.stringValue)
            if !dropped.contains("ALL") { missingDropAll.append(container.name) }
            let added = (capabilities?["add"]?.arrayValue ?? []).compactMap(\.stringValue).filter { $0 != "NET_BIND_SERVICE" }
            if !added.isEmpty {
                addingForbidden.append(container.name)
                forbidden.formUnion(added)
            }
        }
        var details: [String] = []
        if !missingDropAll.isEmpty {
            details.append(#"\#(Self.containers(missingDropAll)) must set securityContext.capabilities.drop=["ALL"]"#)
        }
        if !addingForbidden.isEmpty {
            details.append(
                "\(Self.containers(addingForbidden)) must not include \(Self.joinQuote(forbidden.sorted())) "
                    + "in securityContext.capabilities.add")
        }
        guard !details.isEmpty else { return nil }
        return Violation(reason: "unrestricted capabilities", detail: details.joined(separator: "; "))
    }

    private func runAsNonRoot() -> Violation? {
        guard !usesUserNamespace else { return nil }
        var setters: [String] = []
        let pod = podSecurityContext?["runAsNonRoot"]?.boolValue
        if pod == false { setters.append("pod") }
        var explicit: [String] = []
        var implicit: [String] = []
        for container in containers {
            switch container.securityContext?["runAsNonRoot"]?.boolValue {
            case false?: explicit.append(container.name)
            case true?: break
            case nil: if pod != true { implicit.append(container.name) }
            }
        }
        if !explicit.isEmpty { setters.append(Self.containers(explicit)) }
        if !setters.isEmpty {
            return Violation(
                reason: "runAsNonRoot != true",
                detail: "\(setters.joined(separator: " and ")) must not set securityContext.runAsNonRoot=false")
        }
        guard !implicit.isEmpty else { return nil }
        return Violation(
            reason: "runAsNonRoot != true", detail: "pod or \(Self.containers(implicit)) must set securityContext.runAsNonRoot=true")
    }

    private func runAsUser() -> Violation? {
        guard !usesUserNamespace else { return nil }
        var setters: [String] = []
        if podSecurityContext?["runAsUser"]?.intValue == 0 { setters.append("pod") }
        let names = containers.filter { $0.securityContext?["runAsUser"]?.intValue == 0 }.map(\.name)
        if !names.isEmpty { setters.append(Self.containers(names)) }
        guard !setters.isEmpty else { return nil }
        return Violation(reason: "runAsUser=0", detail: "\(setters.joined(separator: " and ")) must not set runAsUser=0")
    }

    private func seccompProfileRestricted() -> Violation? {
        seccompProfile(requiringOne: true)
    }

    /// Baseline: a profile set on the pod or a container must not be `Unconfined`. Restricted also
    /// requires one (RuntimeDefault or Localhost) on the pod or on every container.
    private func seccompProfile(requiringOne: Bool) -> Violation? {
        let allowed: Set<String> = ["RuntimeDefault", "Localhost"]
        var setters: [String] = []
        var values: Set<String> = []
        var podSet = false
        if let pod = podSecurityContext?["seccompProfile"] {
            let type = pod["type"]?.stringValue ?? ""
            if allowed.contains(type) {
                podSet = true
            } else {
                setters.append("pod")
                values.insert(type)
            }
        }
        var explicit: [String] = []
        var implicit: [String] = []
        for container in containers {
            if let profile = container.securityContext?["seccompProfile"] {
                let type = profile["type"]?.stringValue ?? ""
                if !allowed.contains(type) {
                    explicit.append(container.name)
                    values.insert(type)
                }
            } else if !podSet {
                implicit.append(container.name)
            }
        }
        if !explicit.isEmpty { setters.append(Self.containers(explicit)) }
        if !setters.isEmpty {
            return Violation(
                reason: "seccompProfile",
                detail: "\(setters.joined(separator: " and ")) must not set securityContext.seccompProfile.type to "
                    + Self.joinQuote(values.sorted()))
        }
        guard requiringOne, !implicit.isEmpty else { return nil }
        return Violation(
            reason: "seccompProfile",
            detail: "pod or \(Self.containers(implicit)) must set securityContext.seccompProfile.type to "
                + #""RuntimeDefault" or "Localhost""#)
    }

    /// Inline volume sources restricted pods may use; everything else (hostPath, nfs, ...) must
    /// come through a PersistentVolume.
    private static let restrictedVolumeSources: Set<String> = [
        "configMap", "csi", "downwardAPI", "emptyDir", "ephemeral", "persistentVolumeClaim", "projected", "secret",
    ]

    private func restrictedVolumes() -> Violation? {
        var names: [String] = []
        var types: Set<String> = []
        for volume in volumes {
            let sources = (volume.objectValue ?? [:]).keys.filter { $0 != "name" }
            guard !sources.contains(where: Self.restrictedVolumeSources.contains) else { continue }
            names.append(volume["name"]?.stringValue ?? "")
            types.insert(sources.sorted().first ?? "unknown")
        }
        guard !names.isEmpty else { return nil }
        return Violation(
            reason: "restricted volume types",
            detail: "\(Self.plural("volume", names.count)) \(Self.joinQuote(names)) \(names.count == 1 ? "uses" : "use") "
                + "\(Self.plural("restricted volume type", types.count)) \(Self.joinQuote(types.sorted()))")
    }

    private var volumes: [JSONValue] { spec["volumes"]?.arrayValue ?? [] }

    // MARK: - Wording

    /// `container "a"` or `containers "a", "b"`.
    private static func containers(_ names: [String]) -> String {
        "\(plural("container", names.count)) \(joinQuote(names))"
    }

    private static func plural(_ singular: String, _ count: Int) -> String {
        count == 1 ? singular : singular + "s"
    }

    /// `"a", "b"`: quoted as given, without escaping (the plugin's joinQuote).
    private static func joinQuote(_ items: [String]) -> String {
        items.map { "\"\($0)\"" }.joined(separator: ", ")
    }

    /// A Go `%q` of plain text: quotes and backslashes escaped.
    static func quote(_ text: String) -> String {
        "\"" + text.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"") + "\""
    }
}

extension APIServerState {
    /// Pod Security admission of a create or update of `object` (`old` when it replaces one) in
    /// its namespace: throws the plugin's 403 for a Pod that fails the enforced level; returns the
    /// `Warning` header for a workload whose pod template fails it (the workload is admitted).
    /// Updates that change neither spec nor annotations, and subresource writes other than a pod's
    /// `ephemeralcontainers` (status, say), pass.
    func admitPodSecurity(_ r: ResourceRequest, name: String, object: JSONValue, old: JSONValue?) throws(APIError) -> [(String, String)] {
        let group = r.entry.resource.group
        let resource = r.entry.resource.name
        let debugging = group == "" && resource == "pods" && r.subresource == "ephemeralcontainers"
        guard r.subresource == nil || debugging, let namespace = r.namespace else { return [] }
        guard let pod = PodSecurity(object: object, group: group, resource: resource) else { return [] }
        if let old, let previous = PodSecurity(object: old, group: group, resource: resource), !pod.differs(from: previous) {
            return []
        }
        let namespaces = StorageKey(group: "", resource: "namespaces")
        let labels = store[namespaces]?[ObjectKey(namespace: "", name: namespace)]?["metadata"]?["labels"]
        let policy = PodSecurity.Policy(namespaceLabels: labels?.stringMap ?? [:])
        let violations = pod.violations(at: policy.level)
        guard !violations.isEmpty else { return [] }
        let failed = violations.map(\.description).joined(separator: ", ")
        if group == "" && resource == "pods" {
            throw APIError(
                APIStatus(
                    code: 403, reason: "Forbidden",
                    message: "pods \"\(name)\" is forbidden: violates PodSecurity \"\(policy.description)\": \(failed)",
                    detailsName: name, detailsKind: "pods"))
        }
        let warning = "would violate PodSecurity \(PodSecurity.quote(policy.description)): \(failed)"
        return [("Warning", "299 - \(PodSecurity.quote(warning))")]
    }
}
