import FerryHTTP
import Foundation
import Synchronization

/// What a command exec'd in a container wrote and how it ended.
public struct PodExecResult: Sendable, Equatable {
    public var stdout: [UInt8] = []
    public var stderr: [UInt8] = []
    /// Output past the limit was dropped.
    public var stdoutTruncated = false
    public var stderrTruncated = false
    /// 0 for Success, the code of a NonZeroExitCode failure; nil when the Status gave none
    /// (the command could not start, say: `message` says why).
    public var exitCode: Int32?
    /// The message of a Failure Status.
    public var message: String?

    public init() {}

    public var succeeded: Bool { exitCode == 0 }
}

/// Why an exec gave no result.
public enum PodExecError: Error, Sendable, CustomStringConvertible {
    /// The API server refused it (403 without `create` on pods/exec, 404 pod, 400 container)
    /// or could not be reached.
    case api(KubeError)
    /// The command did not end within the timeout; what it wrote until then.
    case timedOut(PodExecResult)
    /// The stream broke or broke the protocol.
    case stream(String)
    case cancelled

    public var description: String {
        switch self {
        case .api(let error): return error.description
        case .timedOut: return "the command did not end in time"
        case .stream(let detail): return "exec stream: \(detail)"
        case .cancelled: return "cancelled"
        }
    }
}

/// Runs a command in a container through the API server's `pods/exec` subresource, as kubectl
/// does: a WebSocket (`v5.channel.k8s.io`, else `v4`) on which every binary message starts with
/// its channel (0 stdin, 1 stdout, 2 stderr, 3 the ending Status; v5's 255 closes a stream).
/// Needs `create` on `pods/exec` (and `get`, which a GET upgrade is also authorized as).
///
/// The timeout ends Ferry's wait and closes the stream; the container runtime may let the
/// command run on (kubelets do not always kill an exec whose client went away).
public struct PodExec: Sendable {
    public static let subprotocols = ["v5.channel.k8s.io", "v4.channel.k8s.io"]
    let client: KubeClient

    public init(client: KubeClient) {
        self.client = client
    }

    /// Runs `command` in `container` (nil: the pod's only container) of a pod; `stdin` (when
    /// given) is sent and closed; each output stream keeps at most `outputLimit` bytes.
    public func run(
        namespace: String, pod: String, container: String?, command: [String], stdin: [UInt8]? = nil, timeout: Duration,
        outputLimit: Int = 1 << 20
    ) async throws(PodExecError) -> PodExecResult {
        let credentials: RequestCredentials
        do {
            credentials = try await client.credentials.credentials()
        } catch {
            throw .api(error)
        }
        let configuration = client.configuration
        var query: [(String, String)] = command.map { ("command", $0) }
        if let container { query.append(("container", container)) }
        if stdin != nil { query.append(("stdin", "true")) }
        query += [("stdout", "true"), ("stderr", "true")]
        let url = client.url(
            "/api/v1/namespaces/\(KubeClient.encode(namespace))/pods/\(KubeClient.encode(pod))/exec", query: query)
        var upgradeHeaders = HTTPHeaders()
        if let authorization = credentials.authorization { upgradeHeaders.add("Authorization", authorization) }
        upgradeHeaders.add("User-Agent", "ferry")
        let headers = upgradeHeaders
        let tls = HTTPTLSConfiguration(
            certificateAuthorities: configuration.certificateAuthority.map(KubeClient.pem),
            clientCertificate: credentials.clientCertificate.map(KubeClient.pem), clientKey: credentials.clientKey.map(KubeClient.pem),
            insecureSkipVerify: configuration.insecureSkipTLSVerify)
        let flag = CancelFlag()
        let deadline = ContinuousClock.now + timeout
        let connectTimeout = configuration.connectTimeout
        let server = configuration.server
        let outcome: Result<PodExecResult, PodExecError> = await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                DispatchQueue.global().async {
                    continuation.resume(
                        returning: Self.exchange(
                            url: url, headers: headers, tls: tls, connectTimeout: connectTimeout, deadline: deadline, stdin: stdin,
                            outputLimit: outputLimit, server: server, isCancelled: { flag.value.load(ordering: .relaxed) }))
                }
            }
        } onCancel: {
            flag.value.store(true, ordering: .relaxed)
        }
        return try outcome.get()
    }

    final class CancelFlag: Sendable {
        let value = Atomic<Bool>(false)
    }

    /// The blocking exchange, on a Dispatch thread.
    static func exchange(
        url: String, headers: HTTPHeaders, tls: HTTPTLSConfiguration, connectTimeout: Duration, deadline: ContinuousClock.Instant,
        stdin: [UInt8]?, outputLimit: Int, server: String, isCancelled: @escaping @Sendable () -> Bool
    ) -> Result<PodExecResult, PodExecError> {
        var result = PodExecResult()
        var status: [UInt8] = []
        let connection: WebSocketConnection
        do throws(WebSocketError) {
            connection = try WebSocketConnection.connect(
                url: url, headers: headers, protocols: subprotocols, tls: tls, connectTimeout: connectTimeout, deadline: deadline,
                isCancelled: isCancelled)
        } catch {
            return .failure(map(error, server: server, partial: result))
        }
        defer { connection.close() }
        do throws(WebSocketError) {
            if let stdin {
                var offset = 0
                while offset < stdin.count {
                    let end = min(stdin.count, offset + 32 << 10)
                    try connection.send(binary: [0] + stdin[offset..<end])
                    offset = end
                }
                if connection.subprotocol == "v5.channel.k8s.io" { try connection.send(binary: [255, 0]) }
            }
            reading: while true {
                switch try connection.receive() {
                case .binary(let message):
                    guard let channel = message.first else { continue }
                    let payload = message.dropFirst()
                    switch channel {
                    case 1: append(payload, to: &result.stdout, truncated: &result.stdoutTruncated, limit: outputLimit)
                    case 2: append(payload, to: &result.stderr, truncated: &result.stderrTruncated, limit: outputLimit)
                    case 3: status += payload
                    default: continue
                    }
                case .text: continue
                case .close: break reading
                }
            }
        } catch .closedUnexpectedly where !status.isEmpty {
            // The Status came; the connection ended without its close frame.
        } catch {
            return .failure(map(error, server: server, partial: result))
        }
        guard !status.isEmpty, let json = try? JSONValue(parsing: status) else {
            return .failure(.stream("the stream ended without a Status on the error channel"))
        }
        if json["status"]?.stringValue == "Success" {
            result.exitCode = 0
            return .success(result)
        }
        result.message = json["message"]?.stringValue
        if json["reason"]?.stringValue == "NonZeroExitCode" {
            let causes = json["details"]?["causes"]?.arrayValue ?? []
            if let code = causes.first(where: { $0["reason"]?.stringValue == "ExitCode" })?["message"]?.stringValue.flatMap({ Int32($0) }) {
                result.exitCode = code
            }
        }
        return .success(result)
    }

    static func append(_ bytes: ArraySlice<UInt8>, to output: inout [UInt8], truncated: inout Bool, limit: Int) {
        let room = max(0, limit - output.count)
        if bytes.count > room { truncated = true }
        output += bytes.prefix(room)
    }

    static func map(_ error: WebSocketError, server: String, partial: PodExecResult) -> PodExecError {
        switch error {
        case .transport(let http): return .api(KubeClient.mapTransport(http, server: server))
        case .rejected(let status, _, let body): return .api(KubeClient.error(status: status, body: body))
        case .timedOut: return .timedOut(partial)
        case .cancelled: return .cancelled
        case .protocolViolation, .closedUnexpectedly: return .stream(error.description)
        }
    }
}
