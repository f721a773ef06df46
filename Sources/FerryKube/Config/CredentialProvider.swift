import FerrySystem
import Foundation
import Synchronization

/// The credentials to put on one request.
public struct RequestCredentials: Sendable, Hashable {
    public var authorization: String?
    public var clientCertificate: PEMSource?
    public var clientKey: PEMSource?
}

/// Produces credentials for requests, refreshing what expires: token files are re-read when they
/// change (service-account tokens rotate), exec plugins are re-run when their credential expires
/// or the server answers 401.
public actor CredentialProvider {
    private let configuration: KubeClientConfiguration
    private var cached: RequestCredentials?
    private var expiry: Date?
    private var tokenFileStamp: (modified: Date, size: Int)?
    private var lastTokenCheck: Date?
    /// Token files are checked for changes at most this often.
    private let tokenFileRecheck: TimeInterval

    public init(configuration: KubeClientConfiguration, tokenFileRecheck: TimeInterval = 10) {
        self.configuration = configuration
        self.tokenFileRecheck = tokenFileRecheck
    }

    /// Forgets cached credentials so the next request fetches fresh ones (after a 401).
    public func invalidate() {
        cached = nil
        expiry = nil
        tokenFileStamp = nil
    }

    public func credentials() async throws(KubeError) -> RequestCredentials {
        switch configuration.credentials {
        case .none:
            return RequestCredentials(
                authorization: nil, clientCertificate: configuration.clientCertificate, clientKey: configuration.clientKey)
        case .token(let token):
            return RequestCredentials(
                authorization: "Bearer \(token)", clientCertificate: configuration.clientCertificate, clientKey: configuration.clientKey)
        case .basic(let username, let password):
            let encoded = Data("\(username):\(password)".utf8).base64EncodedString()
            return RequestCredentials(
                authorization: "Basic \(encoded)", clientCertificate: configuration.clientCertificate, clientKey: configuration.clientKey)
        case .tokenFile(let path):
            return try tokenFileCredentials(path)
        case .exec(let exec):
            if let cached, expiry.map({ $0.timeIntervalSinceNow > 10 }) ?? true { return cached }
            let (credential, expires) = try await ExecCredentialPlugin.run(exec, server: configuration.server)
            var result = credential
            if result.clientCertificate == nil {
                result.clientCertificate = configuration.clientCertificate
                result.clientKey = configuration.clientKey
            }
            cached = result
            expiry = expires
            return result
        }
    }

    private func tokenFileCredentials(_ path: String) throws(KubeError) -> RequestCredentials {
        let now = Date()
        if let cached, let last = lastTokenCheck, now.timeIntervalSince(last) < tokenFileRecheck {
            return cached
        }
        lastTokenCheck = now
        let attributes = try? FileManager.default.attributesOfItem(atPath: path)
        let stamp = ((attributes?[.modificationDate] as? Date) ?? .distantPast, (attributes?[.size] as? Int) ?? -1)
        if let cached, let previous = tokenFileStamp, previous.modified == stamp.0, previous.size == stamp.1 {
            return cached
        }
        let token: String
        do {
            token = try String(contentsOfFile: path, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        } catch {
            throw KubeError.credentials("cannot read the token file \(path): \((error as NSError).localizedDescription)")
        }
        guard !token.isEmpty else { throw KubeError.credentials("the token file \(path) is empty") }
        let result = RequestCredentials(
            authorization: "Bearer \(token)", clientCertificate: configuration.clientCertificate, clientKey: configuration.clientKey)
        cached = result
        tokenFileStamp = stamp
        return result
    }
}

/// Runs a client.authentication.k8s.io exec credential plugin and reads its ExecCredential.
enum ExecCredentialPlugin {
    static let supportedVersions: Set<String> = [
        "client.authentication.k8s.io/v1", "client.authentication.k8s.io/v1beta1",
    ]
    static let maximumOutput = 1 << 20

    static func run(_ exec: ExecCredentialConfig, server: String) async throws(KubeError) -> (RequestCredentials, Date?) {
        guard supportedVersions.contains(exec.apiVersion) else {
            throw KubeError.credentials(
                "exec plugin \(exec.command): apiVersion \(exec.apiVersion) is not supported (use client.authentication.k8s.io/v1)")
        }
        var execInfo: JSONValue = [
            "apiVersion": .string(exec.apiVersion), "kind": "ExecCredential", "spec": ["interactive": false],
        ]
        if exec.provideClusterInfo { execInfo.setValue(.string(server), at: ["spec", "cluster", "server"]) }
        let info = execInfo.serializedString()
        let result: (status: Int32, output: [UInt8], errors: [UInt8])
        do {
            result = try await BlockingExecutor.io.run { try runProcess(exec, execInfo: info) }
        } catch let error as KubeError {
            throw error
        } catch {
            var message = "exec plugin \(exec.command) could not be started: \(error)"
            if let hint = exec.installHint { message += ". \(hint)" }
            throw KubeError.credentials(message)
        }
        guard result.status == 0 else {
            let stderr = String(decoding: result.errors.prefix(2000), as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
            throw KubeError.credentials(
                "exec plugin \(exec.command) exited with status \(result.status)\(stderr.isEmpty ? "" : ": \(stderr)")")
        }
        let document: JSONValue
        do {
            document = try JSONValue(parsing: result.output)
        } catch {
            throw KubeError.credentials("exec plugin \(exec.command) printed something that is not an ExecCredential: \(error)")
        }
        guard document["kind"]?.stringValue == "ExecCredential" else {
            throw KubeError.credentials(
                "exec plugin \(exec.command) printed kind \(document["kind"]?.stringValue ?? "(none)"), not ExecCredential")
        }
        guard document["apiVersion"]?.stringValue == exec.apiVersion else {
            throw KubeError.credentials(
                """
                exec plugin \(exec.command) answered apiVersion \(document["apiVersion"]?.stringValue ?? "(none)"), \
                but \(exec.apiVersion) was configured
                """
            )
        }
        let status = document["status"] ?? [:]
        var credentials = RequestCredentials(authorization: nil, clientCertificate: nil, clientKey: nil)
        if let token = status["token"]?.stringValue, !token.isEmpty { credentials.authorization = "Bearer \(token)" }
        if let cert = status["clientCertificateData"]?.stringValue, let key = status["clientKeyData"]?.stringValue,
            !cert.isEmpty, !key.isEmpty
        {
            credentials.clientCertificate = .data(Array(cert.utf8))
            credentials.clientKey = .data(Array(key.utf8))
        }
        guard credentials.authorization != nil || credentials.clientCertificate != nil else {
            throw KubeError.credentials("exec plugin \(exec.command) returned neither a token nor a client certificate and key")
        }
        var expires: Date?
        if let text = status["expirationTimestamp"]?.stringValue {
            expires = ISO8601DateFormatter().date(from: text)
        }
        return (credentials, expires)
    }

    private static func runProcess(_ exec: ExecCredentialConfig, execInfo: String) throws -> (Int32, [UInt8], [UInt8]) {
        let process = Process()
        if exec.command.contains("/") {
            process.executableURL = URL(fileURLWithPath: exec.command)
            process.arguments = exec.args
        } else {
            process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            process.arguments = [exec.command] + exec.args
        }
        var environment = ProcessInfo.processInfo.environment
        for (key, value) in exec.env { environment[key] = value }
        environment["KUBERNETES_EXEC_INFO"] = execInfo
        process.environment = environment
        let stdout = Pipe()
        let stderr = Pipe()
        process.standardOutput = stdout
        process.standardError = stderr
        process.standardInput = FileHandle.nullDevice
        try process.run()
        let errorData = Mutex(Data())
        let drained = DispatchGroup()
        let errorHandle = stderr.fileHandleForReading
        DispatchQueue.global().async(group: drained) {
            let data = errorHandle.readDataToEndOfFile()
            errorData.withLock { $0 = data }
        }
        let output = stdout.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        drained.wait()
        let errorBytes = errorData.withLock { Array($0.prefix(64 << 10)) }
        if output.count > maximumOutput {
            throw KubeError.credentials("exec plugin \(exec.command) printed more than \(maximumOutput) bytes")
        }
        if process.terminationReason == .uncaughtSignal {
            return (128 + process.terminationStatus, Array(output), errorBytes)
        }
        if process.terminationStatus == 127 && !exec.command.contains("/") {
            var message = "exec plugin \(exec.command) was not found in PATH"
            if let hint = exec.installHint { message += ". \(hint)" }
            throw KubeError.credentials(message)
        }
        return (process.terminationStatus, Array(output), errorBytes)
    }
}
