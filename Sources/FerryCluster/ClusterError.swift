import FerryKube

/// Why the coordinator cannot act on a custom resource: a spec that does not say what is
/// needed, or an object it names that is missing. The message goes into the resource's status.
public enum ClusterError: Error, CustomStringConvertible {
    /// A field of a resource is missing or wrong.
    case invalidSpec(object: String, field: String, message: String)
    /// A resource a spec names does not exist.
    case missing(kind: String, namespace: String, name: String, neededBy: String)
    /// A Secret lacks the key a spec names.
    case missingSecretKey(secret: String, namespace: String, key: String)
    /// The Kubernetes API failed.
    case kube(KubeError)
    /// The repository could not be opened, created or written.
    case repository(String)

    public var description: String {
        switch self {
        case .invalidSpec(let object, let field, let message): return "\(object): \(field): \(message)"
        case .missing(let kind, let namespace, let name, let neededBy): return "\(kind) \(namespace)/\(name) (needed by \(neededBy)) does not exist"
        case .missingSecretKey(let secret, let namespace, let key): return "Secret \(namespace)/\(secret) has no key \(key)"
        case .kube(let error): return error.description
        case .repository(let message): return message
        }
    }
}

/// The `ferry.dev/v1alpha1` kinds.
public enum FerryKind: String, Sendable, CaseIterable {
    case target = "Target"
    case backupPlan = "BackupPlan"
    case clusterBackupPlan = "ClusterBackupPlan"
    case backup = "Backup"
    case restore = "Restore"
    case volumeTransfer = "VolumeTransfer"

    public static let apiVersion = "ferry.dev/v1alpha1"

    /// The served resource (from discovery: the CRDs must be installed).
    public func resource(_ client: KubeClient) async throws(ClusterError) -> APIResource {
        do {
            return try await client.resource(apiVersion: Self.apiVersion, kind: rawValue)
        } catch {
            throw .kube(error)
        }
    }

    /// Gets one object of this kind, or says which is missing and who needed it.
    public func get(_ client: KubeClient, namespace: String, name: String, neededBy: String) async throws(ClusterError) -> KubeObject {
        let resource = try await resource(client)
        do {
            return try await client.get(resource, namespace: namespace, name: name)
        } catch .notFound {
            throw .missing(kind: rawValue, namespace: namespace, name: name, neededBy: neededBy)
        } catch {
            throw .kube(error)
        }
    }
}

extension KubeObject {
    /// `Kind namespace/name`, for messages.
    var label: String { "\(kind) \(namespace.map { "\($0)/" } ?? "")\(name)" }

    /// A required non-empty string at `path` under `spec`.
    func requiredString(_ path: String...) throws(ClusterError) -> String {
        var value: JSONValue? = self["spec"]
        for key in path { value = value?[key] }
        guard let text = value?.stringValue, !text.isEmpty else {
            throw .invalidSpec(object: label, field: "spec." + path.joined(separator: "."), message: "required")
        }
        return text
    }

    /// An optional string at `path` under `spec` (empty counts as absent).
    func optionalString(_ path: String...) -> String? {
        var value: JSONValue? = self["spec"]
        for key in path { value = value?[key] }
        guard let text = value?.stringValue, !text.isEmpty else { return nil }
        return text
    }
}
