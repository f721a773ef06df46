import FerryBlob
import FerryKube
import FerryRepo
import Foundation

/// Opens the repository a `Target` names, with the password and S3 credentials from the
/// Secrets it names (in its own namespace). A location that holds no repository is created only
/// when the Target asks for it (`spec.initialize`) and the caller may create one (the
/// coordinator); otherwise it is an error, so a misspelt bucket or prefix never starts a new,
/// empty repository. Only Targets in Ferry's own namespace may use Ferry's own cloud identity:
/// any other Target names a Secret with its credentials.
public struct TargetConnector: Sendable {
    public let client: KubeClient
    /// The index cache (nil: none). One that keeps tables, shared by every open of a process
    /// (copies share the tables), lets each unit's session build on the index the last one merged.
    public var cache: IndexCache?
    /// The namespace Ferry runs in.
    public var ferryNamespace: String
    /// Whether a Target's `initialize` may create a repository here (the coordinator: yes; an
    /// agent: never).
    public var mayInitialize: Bool
    /// Where the Secrets may come from when read a few seconds ago (nil: read them each time).
    public var recent: RecentReads?

    public init(client: KubeClient, cache: IndexCache?, ferryNamespace: String, mayInitialize: Bool, recent: RecentReads? = nil) {
        self.client = client
        self.cache = cache
        self.ferryNamespace = ferryNamespace
        self.mayInitialize = mayInitialize
        self.recent = recent
    }

    /// - Parameter loadIndex: false when the caller only begins a write session (which reads the
    ///   index itself) or reads manifests.
    /// - Parameter expected: the repository id the coordinator opened; another repository at
    ///   the Target's location (a node's own directory under a path Target) is refused.
    public func open(_ target: Target, loadIndex: Bool = true, expecting expected: String?) async throws(ClusterError) -> Repository {
        let repository = try await open(target, loadIndex: loadIndex)
        if let expected, repository.config.id != expected {
            let location = try target.spec.location(of: target.label)
            throw .repository(
                "the repository at \(location.text) (Target \(target.namespace ?? "")/\(target.name)) is \(repository.config.id), "
                    + "not \(expected), which the coordinator uses\(Self.pathHint(target)); nothing was stored into or read from it")
        }
        return repository
    }

    /// - Parameter loadIndex: false when the caller only begins a write session (which reads the
    ///   index itself) or reads manifests.
    public func open(_ target: Target, loadIndex: Bool = true) async throws(ClusterError) -> Repository {
        let (store, password) = try await store(target)
        let location = try target.spec.location(of: target.label)
        do {
            do {
                return try await Repository.open(store: store, password: password, loadIndex: loadIndex, cache: cache)
            } catch RepositoryError.notARepository {
                guard mayInitialize, target.spec.initialize == true else {
                    throw ClusterError.repository(Self.noRepository(location, target))
                }
                do {
                    try await Repository.initialize(
                        store: store, password: password,
                        objectLock: target.spec.immutability.map {
                            ObjectLockPolicy(mode: $0.mode == .governance ? .governance : .compliance, days: Double($0.days))
                        })
                } catch RepositoryError.alreadyInitialized {
                    // Another job (or the Target's check) created it just now: open that one.
                }
                return try await Repository.open(store: store, password: password, loadIndex: loadIndex, cache: cache)
            }
        } catch let error as ClusterError {
            throw error
        } catch {
            throw .repository("Target \(target.namespace ?? "")/\(target.name) (\(location.text)): \(error)")
        }
    }

    /// The Target's object store and the repository password (for maintenance, which opens the
    /// repository itself).
    public func store(_ target: Target) async throws(ClusterError) -> (any ObjectStore, [UInt8]) {
        let namespace = target.namespace ?? ""
        let spec = try target.spec.location(of: target.label)
        let password = try await secretValue(target.spec.encryptionSecret.name, key: target.spec.encryptionKey, namespace: namespace)
        let location: StoreLocation
        switch spec {
        case .path(let path):
            location = .directory(DirectoryLocation(path: path, create: mayInitialize && target.spec.initialize == true))
        case .s3(let s3):
            let credentials: S3CredentialSource
            if let secret = s3.credentialsSecret?.name {
                func text(_ key: String) async throws(ClusterError) -> String {
                    String(decoding: try await secretValue(secret, key: key, namespace: namespace), as: UTF8.self)
                }
                let token = try? await text("AWS_SESSION_TOKEN")
                credentials = .keys(
                    S3Credentials(
                        accessKeyID: try await text("AWS_ACCESS_KEY_ID"), secretAccessKey: try await text("AWS_SECRET_ACCESS_KEY"),
                        sessionToken: token))
            } else {
                // No Secret: Ferry's own identity (web identity on EKS, instance role), which
                // must not open other namespaces' buckets for them.
                guard namespace == ferryNamespace else {
                    throw .invalidSpec(
                        object: target.label, field: "spec.s3.credentialsSecret",
                        message:
                            """
                            required outside namespace \(ferryNamespace): \
                            only Targets in Ferry's own namespace may use Ferry's own cloud identity
                            """
                    )
                }
                credentials = .ambient()
            }
            location = .s3(
                S3Location(
                    bucket: s3.bucket, prefix: s3.prefix ?? "", endpoint: s3.endpoint, region: s3.region,
                    addressing: S3AddressingStyle(rawValue: (s3.addressing ?? .auto).rawValue) ?? .auto,
                    insecureSkipTLSVerify: s3.insecureSkipTLSVerify ?? false, credentials: credentials))
        }
        do {
            return (try location.open(), password)
        } catch ObjectStoreError.missingStore where !(mayInitialize && target.spec.initialize == true) {
            throw .repository(Self.noRepository(spec, target))
        } catch {
            throw .repository("Target \(namespace)/\(target.name) (\(spec.text)): \(error)")
        }
    }

    static func noRepository(_ location: TargetSpec.Location, _ target: Target) -> String {
        "no Ferry repository at \(location.text) (Target \(target.namespace ?? "")/\(target.name))\(pathHint(target)); "
            + "if this is where a new repository belongs, set spec.initialize: true on the Target"
    }

    /// For a path Target: what it takes for every pod to see the same repository.
    static func pathHint(_ target: Target) -> String {
        guard target.spec.path != nil else { return "" }
        return
            " (a path Target must be one shared directory, "
            + "mounted at that path in the coordinator and on every node's agent: chart value pathTargets)"
    }

    /// One key of a Secret in `namespace`, decoded.
    func secretValue(_ name: String, key: String, namespace: String) async throws(ClusterError) -> [UInt8] {
        let secret: KubeObject
        do {
            let resource = try await client.resource(apiVersion: "v1", kind: "Secret")
            if let recent {
                secret = try await recent.get(resource, namespace: namespace, name: name, from: client)
            } else {
                secret = try await client.get(resource, namespace: namespace, name: name)
            }
        } catch .notFound {
            throw .missing(kind: "Secret", namespace: namespace, name: name, neededBy: "a Target")
        } catch {
            throw .kube(error)
        }
        guard let encoded = secret["data"]?[key]?.stringValue, let value = Data(base64Encoded: encoded) else {
            if let text = secret["stringData"]?[key]?.stringValue { return Array(text.utf8) }
            throw .missingSecretKey(secret: name, namespace: namespace, key: key)
        }
        var bytes = [UInt8](value)
        while bytes.last == UInt8(ascii: "\n") || bytes.last == UInt8(ascii: "\r") { bytes.removeLast() }
        return bytes
    }
}
