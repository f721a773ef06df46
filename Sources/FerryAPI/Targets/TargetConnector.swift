import FerryBlob
import FerryKube
import FerryRepo
import Foundation

/// Opens the repository a `Target` names, with the password and S3 credentials from the
/// Secrets it names (in its own namespace). A location that holds no repository yet is
/// initialised with that password, as Velero does for its repositories.
public struct TargetConnector: Sendable {
    public let client: KubeClient
    /// Where index caches go (nil: no cache).
    public var cacheDirectory: String?

    public init(client: KubeClient, cacheDirectory: String?) {
        self.client = client
        self.cacheDirectory = cacheDirectory
    }

    /// - Parameter loadIndex: false when the caller only begins a write session (which reads the
    ///   index itself) or reads manifests.
    public func open(_ target: Target, loadIndex: Bool = true) async throws(ClusterError) -> Repository {
        let (store, password) = try await store(target)
        let location = try target.spec.location(of: target.label)
        do {
            let cache = cacheDirectory.map(IndexCache.init(directory:))
            do {
                return try await Repository.open(store: store, password: password, loadIndex: loadIndex, cache: cache)
            } catch RepositoryError.notARepository {
                try await Repository.initialize(store: store, password: password)
                return try await Repository.open(store: store, password: password, loadIndex: loadIndex, cache: cache)
            }
        } catch {
            throw .repository("Target \(target.namespace ?? "")/\(target.name) (\(location.text)): \(error)")
        }
    }

    /// The Target's object store and the repository password (for maintenance, which opens the
    /// repository itself).
    public func store(_ target: Target) async throws(ClusterError) -> (any ObjectStore, [UInt8]) {
        let namespace = target.namespace ?? ""
        let location = try target.spec.location(of: target.label)
        let password = try await secretValue(target.spec.encryptionSecret.name, key: target.spec.encryptionKey, namespace: namespace)
        var options = StoreOptions()
        if case .s3(let s3) = location {
            var environment: [String: String] = [:]
            if let secret = s3.credentialsSecret?.name {
                for key in ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"] {
                    environment[key] = String(decoding: try await secretValue(secret, key: key, namespace: namespace), as: UTF8.self)
                }
                if let token = try? await secretValue(secret, key: "AWS_SESSION_TOKEN", namespace: namespace) {
                    environment["AWS_SESSION_TOKEN"] = String(decoding: token, as: UTF8.self)
                }
            } else {
                // No Secret: the process's own identity (web identity on EKS, instance role).
                environment = ProcessInfo.processInfo.environment
            }
            options = StoreOptions(s3Endpoint: s3.endpoint, s3Region: s3.region, insecureSkipTLSVerify: s3.insecureSkipTLSVerify ?? false,
                                   s3Addressing: S3AddressingStyle(rawValue: (s3.addressing ?? .auto).rawValue) ?? .auto, environment: environment)
        }
        do {
            return (try StoreLocator.open(location.text, options: options, create: true), password)
        } catch {
            throw .repository("Target \(namespace)/\(target.name) (\(location.text)): \(error)")
        }
    }

    /// One key of a Secret in `namespace`, decoded.
    func secretValue(_ name: String, key: String, namespace: String) async throws(ClusterError) -> [UInt8] {
        let secret: KubeObject
        do {
            secret = try await client.get(try await client.resource(apiVersion: "v1", kind: "Secret"), namespace: namespace, name: name)
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
