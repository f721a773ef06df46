import FerryBlob
import FerryKube

/// A `Target`: where a repository is (a directory the coordinator mounts, or S3) and the Secrets
/// that unlock it, all in the Target's namespace.
public struct TargetSpec: Sendable {
    public enum Location: Sendable {
        case path(String)
        case s3(S3)
    }

    public struct S3: Sendable {
        public var endpoint: String?
        public var bucket: String
        public var prefix: String
        public var region: String?
        public var addressing: S3AddressingStyle
        public var insecureSkipTLSVerify: Bool
        /// A Secret with AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY [/ AWS_SESSION_TOKEN].
        public var credentialsSecret: String?
    }

    public var namespace: String
    public var name: String
    public var location: Location
    public var encryptionSecret: String
    public var encryptionKey: String
    /// When to prune the repository (nil: never from the cluster).
    public var pruneSchedule: String?
    /// Rewrite a pack when more than this share of it is unused.
    public var pruneMaxUnused: Double

    public init(_ object: KubeObject) throws(ClusterError) {
        namespace = object.namespace ?? ""
        name = object.name
        encryptionSecret = try object.requiredString("encryptionSecret", "name")
        encryptionKey = object.optionalString("encryptionSecret", "key") ?? "password"
        pruneSchedule = object.optionalString("prune", "schedule")
        pruneMaxUnused = Double(object["spec"]?["prune"]?["maxUnusedPercent"]?.intValue ?? 20) / 100
        let path = object.optionalString("path")
        let s3 = object["spec"]?["s3"]
        switch (path, s3) {
        case (let path?, nil):
            guard path.hasPrefix("/") else {
                throw .invalidSpec(object: object.label, field: "spec.path", message: "must be an absolute path, not \(path)")
            }
            location = .path(path)
        case (nil, .some):
            let addressingText = object.optionalString("s3", "addressing") ?? "auto"
            guard let addressing = S3AddressingStyle(rawValue: addressingText) else {
                throw .invalidSpec(object: object.label, field: "spec.s3.addressing", message: "must be auto, path or virtual, not \(addressingText)")
            }
            location = .s3(S3(
                endpoint: object.optionalString("s3", "endpoint"), bucket: try object.requiredString("s3", "bucket"),
                prefix: object.optionalString("s3", "prefix") ?? "", region: object.optionalString("s3", "region"), addressing: addressing,
                insecureSkipTLSVerify: object["spec"]?["s3"]?["insecureSkipTLSVerify"]?.boolValue ?? false,
                credentialsSecret: object.optionalString("s3", "credentialsSecret", "name")))
        default:
            throw .invalidSpec(object: object.label, field: "spec", message: "set exactly one of path and s3")
        }
    }

    /// The repository location as the CLI writes it.
    public var locationText: String {
        switch location {
        case .path(let path): return path
        case .s3(let s3): return "s3://\(s3.bucket)/\(s3.prefix)"
        }
    }
}
