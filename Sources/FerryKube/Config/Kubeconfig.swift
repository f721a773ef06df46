import Foundation

/// A parsed kubeconfig (one file or several merged as KUBECONFIG does), resolved to a client
/// configuration for a context.
public struct Kubeconfig: Sendable {
    public struct Cluster: Sendable {
        public var server: String
        public var certificateAuthority: PEMSource?
        public var insecureSkipTLSVerify: Bool
        public var tlsServerName: String?
        public var proxyURL: String?
    }

    public struct User: Sendable {
        public var credentials: KubeCredentials
        public var clientCertificate: PEMSource?
        public var clientKey: PEMSource?
        public var unsupported: [String]
    }

    public struct Context: Sendable {
        public var cluster: String
        public var user: String
        public var namespace: String?
    }

    public var clusters: [String: Cluster] = [:]
    public var users: [String: User] = [:]
    public var contexts: [String: Context] = [:]
    public var currentContext: String?
    /// The files it was read from.
    public var sources: [String] = []

    public init() {}

    /// Parses one kubeconfig document; relative file paths resolve against `directory`.
    public init(yaml text: String, directory: String, source: String = "kubeconfig") throws(KubeError) {
        let document: JSONValue
        do {
            document = try YAMLDocuments.parseSingle(text)
        } catch {
            throw KubeError.configuration("\(source) is not valid YAML: \(error)")
        }
        guard case .object = document else {
            if document.isNull {
                self.init()
                sources = [source]
                return
            }
            throw KubeError.configuration("\(source) is not a kubeconfig (the document is not a mapping)")
        }
        self.init()
        sources = [source]
        func resolve(_ path: String) -> String {
            if path.hasPrefix("/") || path.isEmpty { return path }
            if path.hasPrefix("~/") { return NSHomeDirectory() + path.dropFirst(1) }
            return URL(fileURLWithPath: (directory as NSString).appendingPathComponent(path)).standardized.path
        }
        func pem(_ object: JSONValue, file: String, data: String, what: String) throws(KubeError) -> PEMSource? {
            if let encoded = object[data]?.stringValue, !encoded.isEmpty {
                guard let decoded = Data(base64Encoded: encoded, options: .ignoreUnknownCharacters) else {
                    throw KubeError.configuration("\(source): \(what) \(data) is not valid base64")
                }
                return .data(Array(decoded))
            }
            if let path = object[file]?.stringValue, !path.isEmpty { return .file(resolve(path)) }
            return nil
        }
        func named(_ key: String, _ inner: String) throws(KubeError) -> [(String, JSONValue)] {
            guard let list = document[key], !list.isNull else { return [] }
            guard case .array(let items) = list else {
                throw KubeError.configuration("\(source): \(key) must be a list")
            }
            var result: [(String, JSONValue)] = []
            for item in items {
                guard let name = item["name"]?.stringValue else {
                    throw KubeError.configuration("\(source): an entry of \(key) has no name")
                }
                result.append((name, item[inner] ?? [:]))
            }
            return result
        }
        for (name, cluster) in try named("clusters", "cluster") {
            guard let server = cluster["server"]?.stringValue, !server.isEmpty else {
                throw KubeError.configuration("\(source): cluster \"\(name)\" has no server")
            }
            clusters[name] = Cluster(
                server: server,
                certificateAuthority: try pem(
                    cluster, file: "certificate-authority", data: "certificate-authority-data", what: "cluster \(name)"),
                insecureSkipTLSVerify: cluster["insecure-skip-tls-verify"]?.boolValue ?? false,
                tlsServerName: cluster["tls-server-name"]?.stringValue,
                proxyURL: cluster["proxy-url"]?.stringValue)
        }
        for (name, user) in try named("users", "user") {
            var credentials = KubeCredentials.none
            var unsupported: [String] = []
            if let token = user["token"]?.stringValue, !token.isEmpty {
                credentials = .token(token)
            } else if let file = user["tokenFile"]?.stringValue, !file.isEmpty {
                credentials = .tokenFile(resolve(file))
            } else if let exec = user["exec"], case .object = exec {
                guard let command = exec["command"]?.stringValue, !command.isEmpty else {
                    throw KubeError.configuration("\(source): user \"\(name)\" has an exec stanza without a command")
                }
                var env: [String: String] = [:]
                for entry in exec["env"]?.arrayValue ?? [] {
                    if let key = entry["name"]?.stringValue { env[key] = entry["value"]?.stringValue ?? "" }
                }
                credentials = .exec(
                    ExecCredentialConfig(
                        apiVersion: exec["apiVersion"]?.stringValue ?? "client.authentication.k8s.io/v1",
                        command: command.contains("/") ? resolve(command) : command,
                        args: (exec["args"]?.arrayValue ?? []).compactMap(\.stringValue), env: env,
                        installHint: exec["installHint"]?.stringValue,
                        provideClusterInfo: exec["provideClusterInfo"]?.boolValue ?? false))
            } else if let username = user["username"]?.stringValue, let password = user["password"]?.stringValue {
                credentials = .basic(username: username, password: password)
            }
            if user["auth-provider"] != nil { unsupported.append("auth-provider") }
            if user["as"] != nil || user["act-as"] != nil { unsupported.append("impersonation (as)") }
            users[name] = User(
                credentials: credentials,
                clientCertificate: try pem(user, file: "client-certificate", data: "client-certificate-data", what: "user \(name)"),
                clientKey: try pem(user, file: "client-key", data: "client-key-data", what: "user \(name)"),
                unsupported: unsupported)
        }
        for (name, context) in try named("contexts", "context") {
            contexts[name] = Context(
                cluster: context["cluster"]?.stringValue ?? "", user: context["user"]?.stringValue ?? "",
                namespace: context["namespace"]?.stringValue)
        }
        if let current = document["current-context"]?.stringValue, !current.isEmpty { currentContext = current }
    }

    /// Reads a kubeconfig file.
    public static func load(file path: String) throws(KubeError) -> Kubeconfig {
        guard FileManager.default.fileExists(atPath: path) else {
            throw KubeError.configuration("kubeconfig \(path) does not exist")
        }
        let text: String
        do {
            text = try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            throw KubeError.configuration("cannot read kubeconfig \(path): \((error as NSError).localizedDescription)")
        }
        return try Kubeconfig(yaml: text, directory: (path as NSString).deletingLastPathComponent, source: path)
    }

    /// Merges `other` under this one: entries and the current context already set here win, as
    /// with the files of a KUBECONFIG list.
    public mutating func merge(_ other: Kubeconfig) {
        clusters.merge(other.clusters) { mine, _ in mine }
        users.merge(other.users) { mine, _ in mine }
        contexts.merge(other.contexts) { mine, _ in mine }
        if currentContext == nil { currentContext = other.currentContext }
        sources += other.sources
    }

    /// The kubeconfig kubectl would use: `explicitPath`, else the files listed in KUBECONFIG
    /// (missing ones skipped), else ~/.kube/config. Nil when none exists.
    public static func discover(explicitPath: String? = nil, environment: [String: String] = ProcessInfo.processInfo.environment)
        throws(KubeError) -> Kubeconfig?
    {
        if let explicitPath { return try load(file: explicitPath) }
        if let list = environment["KUBECONFIG"], !list.isEmpty {
            var merged: Kubeconfig?
            for path in list.split(separator: ":").map(String.init) where FileManager.default.fileExists(atPath: path) {
                let config = try load(file: path)
                if merged == nil { merged = config } else { merged!.merge(config) }
            }
            return merged
        }
        let home = environment["HOME"] ?? NSHomeDirectory()
        let path = "\(home)/.kube/config"
        guard FileManager.default.fileExists(atPath: path) else { return nil }
        return try load(file: path)
    }

    /// The client configuration of `context` (default: the current context).
    public func configuration(context name: String? = nil) throws(KubeError) -> KubeClientConfiguration {
        let origin = sources.joined(separator: ":")
        guard let contextName = name ?? currentContext else {
            throw KubeError.configuration("\(origin) has no current-context; name a context")
        }
        guard let context = contexts[contextName] else {
            throw KubeError.configuration("context \"\(contextName)\" is not defined in \(origin)")
        }
        guard let cluster = clusters[context.cluster] else {
            throw KubeError.configuration("cluster \"\(context.cluster)\" of context \"\(contextName)\" is not defined in \(origin)")
        }
        let user = context.user.isEmpty ? nil : users[context.user]
        if !context.user.isEmpty && user == nil {
            throw KubeError.configuration("user \"\(context.user)\" of context \"\(contextName)\" is not defined in \(origin)")
        }
        if let unsupported = user?.unsupported, !unsupported.isEmpty {
            throw KubeError.configuration(
                """
                user \"\(context.user)\" uses \(unsupported.joined(separator: ", ")), \
                which Ferry does not support; use a token, client certificate or exec plugin
                """
            )
        }
        if let proxy = cluster.proxyURL, !proxy.isEmpty {
            throw KubeError.configuration("cluster \"\(context.cluster)\" sets proxy-url, which Ferry does not support")
        }
        if let serverName = cluster.tlsServerName, !serverName.isEmpty {
            throw KubeError.configuration("cluster \"\(context.cluster)\" sets tls-server-name, which Ferry does not support")
        }
        guard cluster.server.hasPrefix("https://") || cluster.server.hasPrefix("http://") else {
            throw KubeError.configuration("cluster \"\(context.cluster)\" server \"\(cluster.server)\" is not an http(s) URL")
        }
        if (user?.clientCertificate == nil) != (user?.clientKey == nil) {
            throw KubeError.configuration("user \"\(context.user)\" has a client certificate without a key, or a key without a certificate")
        }
        return KubeClientConfiguration(
            server: cluster.server, certificateAuthority: cluster.certificateAuthority,
            clientCertificate: user?.clientCertificate, clientKey: user?.clientKey,
            insecureSkipTLSVerify: cluster.insecureSkipTLSVerify, credentials: user?.credentials ?? .none,
            namespace: context.namespace.flatMap { $0.isEmpty ? nil : $0 } ?? "default",
            origin: "\(origin) (context \(contextName))")
    }
}

/// The configuration a pod gets from its service account: KUBERNETES_SERVICE_HOST/PORT, the
/// CA bundle, the namespace, and a token file that the kubelet rotates (re-read, never cached
/// for long).
public enum InClusterConfig {
    public static let defaultDirectory = "/var/run/secrets/kubernetes.io/serviceaccount"

    public static func isAvailable(environment: [String: String] = ProcessInfo.processInfo.environment) -> Bool {
        environment["KUBERNETES_SERVICE_HOST"]?.isEmpty == false && environment["KUBERNETES_SERVICE_PORT"]?.isEmpty == false
    }

    public static func configuration(
        environment: [String: String] = ProcessInfo.processInfo.environment, directory: String = defaultDirectory
    ) throws(KubeError) -> KubeClientConfiguration {
        guard let host = environment["KUBERNETES_SERVICE_HOST"], !host.isEmpty,
            let port = environment["KUBERNETES_SERVICE_PORT"], !port.isEmpty
        else {
            throw KubeError.configuration("not running in a cluster: KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT are not set")
        }
        let tokenPath = "\(directory)/token"
        guard FileManager.default.isReadableFile(atPath: tokenPath) else {
            throw KubeError.configuration("in-cluster service-account token \(tokenPath) is missing or unreadable")
        }
        let caPath = "\(directory)/ca.crt"
        let namespace = (try? String(contentsOfFile: "\(directory)/namespace", encoding: .utf8))?
            .trimmingCharacters(in: .whitespacesAndNewlines)
        let hostPart = host.contains(":") ? "[\(host)]" : host
        return KubeClientConfiguration(
            server: "https://\(hostPart):\(port)",
            certificateAuthority: FileManager.default.fileExists(atPath: caPath) ? .file(caPath) : nil,
            credentials: .tokenFile(tokenPath),
            namespace: namespace.flatMap { $0.isEmpty ? nil : $0 } ?? "default",
            origin: "in-cluster service account")
    }
}
