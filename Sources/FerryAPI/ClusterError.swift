import FerryKube

/// Why the coordinator or an agent cannot act on a custom resource: a spec that does not say
/// what is needed, an object it names that is missing, the API failing. The description goes
/// into the resource's status as its error, so it says what to fix.
public enum ClusterError: Error, CustomStringConvertible {
    /// A field of a resource is missing or wrong.
    case invalidSpec(object: String, field: String, message: String)
    /// A resource a spec names does not exist.
    case missing(kind: String, namespace: String, name: String, neededBy: String)
    /// A Secret lacks the key a spec names.
    case missingSecretKey(secret: String, namespace: String, key: String)
    /// The Kubernetes API failed.
    case kube(KubeError)
    /// The repository could not be opened, created or written, or does not hold what it must.
    case repository(String)
    /// A volume could not be read or written.
    case volume(String, reason: String)
    /// A VolumeTransfer ended Failed; its message.
    case transfer(String)
    /// A snapshot, claim or pod that exposes a volume to an agent failed.
    case exposure(String)
    /// Something did not happen within the time allowed.
    case timedOut(what: String, after: Duration)
    /// A watch that must run for the life of the process ended.
    case watchEnded(resource: String)

    public var description: String {
        switch self {
        case .invalidSpec(let object, let field, let message): return "\(object): \(field): \(message)"
        case .missing(let kind, let namespace, let name, let neededBy):
            return "\(kind) \(namespace.isEmpty ? "" : "\(namespace)/")\(name) (needed by \(neededBy)) does not exist"
        case .missingSecretKey(let secret, let namespace, let key): return "Secret \(namespace)/\(secret) has no key \(key)"
        case .kube(let error): return error.description
        case .repository(let message): return message
        case .volume(let volume, let reason): return "volume \(volume): \(reason)"
        case .exposure(let message), .transfer(let message): return message
        case .timedOut(let what, let after): return "gave up waiting for \(what) after \(after)"
        case .watchEnded(let resource): return "the watch of \(resource) ended"
        }
    }
}
