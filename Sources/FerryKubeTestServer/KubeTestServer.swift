import FerryKube
import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOWebSocket
import Synchronization

/// An in-process stand-in for kube-apiserver, for tests and end-to-end scripts: TLS and plain
/// HTTP on 127.0.0.1, authentication and RBAC as kube-apiserver enforces them, generic storage
/// of any resource discovery lists (built-in kinds from a recorded kube-apiserver discovery
/// document, plus CRD-registered ones), with the API's semantics for resourceVersions,
/// conflicts, selectors, pagination, watches, patches and Status errors; OpenAPI v3 and v2
/// documents (the built-in kinds' v1.33 schemas and every CRD's), server-side field validation,
/// and Tables for `kubectl get`, so the real helm and kubectl run with their default validation.
///
/// What it does not do (see docs/architecture.md): admission beyond Pod Security, validation of
/// built-in kinds beyond names, unknown and duplicate fields and immutable fields,
/// schema conversion between versions, field ownership for server-side apply, controllers
/// (nothing creates Pods or ReplicaSets), snapshots for pages after the first, and protobuf
/// beyond the request bodies typed clients send and the swagger document (responses are JSON).
public final class KubeTestServer: Sendable {
    /// Behaviour switches.
    public struct Options: Sendable {
        /// Answer `GET /api` and `/apis` with aggregated discovery when asked (as 1.30+ servers do).
        public var aggregatedDiscovery = true
        /// Watch events kept for resuming watches; older resourceVersions get 410 Gone.
        public var watchHistoryCapacity = 10_000
        /// Who requests come from (the admin token test set-up uses, ServiceAccount and static
        /// tokens, anonymous requests); RBAC decides what they may do.
        public var authentication = AuthenticationOptions()
        public var requestLogCapacity = 100_000
        /// Largest request body accepted.
        public var maximumBodySize = 64 << 20
        /// How long a deleted namespace stays Terminating before its content and the namespace
        /// itself are removed (kube-controller-manager's namespace controller does this).
        public var namespaceFinalizationDelay: Duration = .milliseconds(500)
        /// Where pods/exec runs commands: `<root>/<namespace>/<pod>/<container>` stands for the
        /// container (see `ExecSandbox`); nil: a new directory under the temporary directory.
        public var execSandboxRoot: String?
        /// How long an exec'd command may run before the server kills it (exit code 137).
        public var execTimeout: Duration = .seconds(300)

        public init() {}
    }

    /// A rule that makes the server answer 403 Forbidden, as RBAC would.
    public struct Denial: Sendable {
        public var verbs: Set<String>?
        public var group: String
        public var resource: String
        public var namespace: String?
        /// Text appended to the message (e.g. `RBAC: clusterrole "x" not found`).
        public var reason: String?

        /// - Parameters: verbs nil denies every verb; namespace nil denies in every namespace.
        public init(verbs: Set<String>? = nil, group: String = "", resource: String, namespace: String? = nil, reason: String? = nil) {
            self.verbs = verbs
            self.group = group
            self.resource = resource
            self.namespace = namespace
            self.reason = reason
        }

        func denies(verb: String, group: String, resource: String, namespace: String?) -> Bool {
            (verbs?.contains(verb) ?? true) && self.group == group && self.resource == resource
                && (self.namespace == nil || self.namespace == namespace)
        }
    }

    /// Runs before the server handles a matching request: a fault injected at a phase (delete
    /// an object when the walk asks for it, answer 429 to the first list) rather than by time.
    public struct RequestHook: Sendable {
        /// What the hook does; `respond` replaces the server's answer.
        public enum Outcome: Sendable {
            case proceed
            case respond(status: Int, reason: String, message: String, retryAfterSeconds: Int? = nil)
            /// Drop the connection without answering.
            case closeConnection
        }

        public var matches: @Sendable (APIRequest) -> Bool
        /// How many matching requests it fires for; nil: every one.
        public var times: Int?
        public var action: @Sendable (APIRequest, KubeTestServer) async -> Outcome

        public init(
            times: Int? = 1, matching matches: @escaping @Sendable (APIRequest) -> Bool,
            action: @escaping @Sendable (APIRequest, KubeTestServer) async -> Outcome
        ) {
            self.matches = matches
            self.times = times
            self.action = action
        }
    }

    /// One request as the server saw it, for assertions on what clients sent.
    public struct RecordedRequest: Sendable {
        public var method: String
        public var path: String
        public var query: [String: String]
        public var contentType: String
        public var accept: String
        public var status: Int
        /// The client's `User-Agent` (audit logs record it too).
        public var userAgent = ""
    }

    let state: APIServerState
    let options: Options
    let certificate: ServingCertificate
    private let channelBox = Mutex<(Channel, Task<Void, Never>)?>(nil)

    public init(options: Options = Options()) throws {
        var options = options
        if options.authentication.adminToken?.isEmpty ?? true {
            options.authentication.adminToken = "ferry-testkube-admin-\(UUID().uuidString.lowercased())"
        }
        if options.execSandboxRoot == nil {
            options.execSandboxRoot =
                FileManager.default.temporaryDirectory.appendingPathComponent(
                    "ferry-testkube-exec-\(UUID().uuidString.lowercased())"
                ).path
        }
        self.options = options
        self.state = try APIServerState(options: options)
        self.certificate = try ServingCertificate()
    }

    // MARK: Lifecycle

    /// Listens on 127.0.0.1:`port` (0 picks a free port), TLS and plain HTTP on the same port,
    /// and serves until `shutdown()`.
    public func start(port: Int = 0) async throws {
        let tls = certificate.context
        let server = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .bind(host: "127.0.0.1", port: port) { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(TLSSniffer(context: tls))
                    // The first request may upgrade the connection to a pods/exec WebSocket
                    // (kubectl and Ferry open a connection for each exec); any other keeps it HTTP.
                    let pending = PendingExec()
                    let upgrader = NIOTypedWebSocketServerUpgrader<ServerConnection>(
                        maxFrameSize: 1 << 20,
                        shouldUpgrade: { channel, head in
                            let promise = channel.eventLoop.makePromise(of: HTTPHeaders?.self)
                            promise.completeWithTask { try await self.upgradeHeaders(for: head, channel: channel, pending: pending) }
                            return promise.futureResult
                        },
                        upgradePipelineHandler: { channel, _ in
                            channel.eventLoop.makeCompletedFuture {
                                let session = pending.session.withLock { $0 }
                                return ServerConnection.exec(
                                    try NIOAsyncChannel<WebSocketFrame, WebSocketFrame>(wrappingChannelSynchronously: channel), session)
                            }
                        })
                    let configuration = NIOUpgradableHTTPServerPipelineConfiguration(
                        upgradeConfiguration: NIOTypedHTTPServerUpgradeConfiguration<ServerConnection>(
                            upgraders: [upgrader, RefusingUpgrader(supportedProtocol: "spdy/3.1", server: self)],
                            notUpgradingCompletionHandler: { channel in
                                channel.eventLoop.makeCompletedFuture {
                                    ServerConnection.http(
                                        try NIOAsyncChannel<HTTPServerRequestPart, HTTPServerResponsePart>(
                                            wrappingChannelSynchronously: channel))
                                }
                            }))
                    return try channel.pipeline.syncOperations.configureUpgradableHTTPServerPipeline(configuration: configuration)
                }
            }
        let boundPort = server.channel.localAddress?.port ?? port
        await state.setPort(boundPort)
        let task = Task(executorPreference: ServerThreads.shared) {
            await withDiscardingTaskGroup { group in
                try? await server.executeThenClose { inbound in
                    for try await upgrade in inbound {
                        group.addTask {
                            switch try? await upgrade.get() {
                            case .http(let connection): await self.serve(connection)
                            case .exec(let connection, let session): await self.serveExec(connection, session)
                            case nil: break
                            }
                        }
                    }
                }
                group.cancelAll()
            }
        }
        channelBox.withLock { $0 = (server.channel, task) }
    }

    /// The port the server listens on (after `start`).
    public var port: Int {
        channelBox.withLock { $0?.0.localAddress?.port ?? 0 }
    }

    /// `http://127.0.0.1:<port>`: plain HTTP, for the in-process clients of `clientConfiguration()`.
    public var url: String { "http://127.0.0.1:\(port)" }

    /// `https://127.0.0.1:<port>`: what kubeconfigs name (kubectl, helm and client-go send
    /// credentials only over TLS), verified with `certificateAuthorityPEM`.
    public var secureURL: String { "https://127.0.0.1:\(port)" }

    /// The certificate authority of the server's TLS certificate, PEM.
    public var certificateAuthorityPEM: String { certificate.authorityPEM }

    /// Stops listening, ends every watch and closes connections.
    public func shutdown() async {
        let current = channelBox.withLock { value -> (Channel, Task<Void, Never>)? in
            defer { value = nil }
            return value
        }
        await state.endAllWatches()
        guard let (channel, task) = current else { return }
        try? await channel.close()
        task.cancel()
        await task.value
    }

    /// A kubeconfig (YAML) for this server (`secureURL`, its CA) with a bearer token (nil: the admin's) and namespace.
    public func kubeconfig(token: String? = nil, namespace: String = "default") -> String {
        kubeconfig(tokenLine: "    token: \(token ?? adminToken)", namespace: namespace)
    }

    /// A kubeconfig without credentials (requests are anonymous).
    public func anonymousKubeconfig(namespace: String = "default") -> String {
        kubeconfig(tokenLine: "    {}", namespace: namespace)
    }

    private func kubeconfig(tokenLine: String, namespace: String) -> String {
        """
        apiVersion: v1
        kind: Config
        clusters:
        - name: ferry-testkube
          cluster:
            server: \(secureURL)
            certificate-authority-data: \(Data(certificate.authorityPEM.utf8).base64EncodedString())
        users:
        - name: ferry-testkube
          user:
        \(tokenLine)
        contexts:
        - name: ferry-testkube
          context:
            cluster: ferry-testkube
            user: ferry-testkube
            namespace: \(namespace)
        current-context: ferry-testkube

        """
    }

    // MARK: Connections

    private func serve(_ connection: NIOAsyncChannel<HTTPServerRequestPart, HTTPServerResponsePart>) async {
        let maximumBody = options.maximumBodySize
        try? await connection.executeThenClose { inbound, outbound in
            let (requests, continuation) = AsyncStream<(HTTPRequestHead, [UInt8]?)>.makeStream()
            await withTaskGroup(of: Void.self) { group in
                group.addTask {
                    var head: HTTPRequestHead?
                    var body: [UInt8] = []
                    var tooLarge = false
                    do {
                        for try await part in inbound {
                            switch part {
                            case .head(let h):
                                head = h
                                body = []
                                tooLarge = false
                            case .body(var buffer):
                                if body.count + buffer.readableBytes > maximumBody {
                                    tooLarge = true
                                } else if let bytes = buffer.readBytes(length: buffer.readableBytes) {
                                    body.append(contentsOf: bytes)
                                }
                            case .end:
                                if let head { continuation.yield((head, tooLarge ? nil : body)) }
                                head = nil
                            }
                        }
                    } catch {}
                    continuation.finish()
                }
                group.addTask {
                    for await (head, body) in requests {
                        let keepGoing = await self.respond(to: head, body: body, outbound: outbound)
                        if !keepGoing { break }
                    }
                }
                await group.next()
                group.cancelAll()
            }
        }
    }

    /// Answers one request; false when the connection must close.
    private func respond(to head: HTTPRequestHead, body: [UInt8]?, outbound: NIOAsyncChannelOutboundWriter<HTTPServerResponsePart>) async
        -> Bool
    {
        var headers: [String: String] = [:]
        for (name, value) in head.headers {
            // A repeated header (Impersonate-Group) is one comma-separated value, as HTTP combines them.
            let key = name.lowercased()
            headers[key] = headers[key].map { "\($0), \(value)" } ?? value
        }
        let request = APIRequest(method: head.method.rawValue, target: head.uri, headers: headers, body: body ?? [])
        var response: APIResponse
        if body == nil {
            response = .status(
                APIStatus(
                    code: 413, reason: "RequestEntityTooLarge", message: "the request body is larger than \(options.maximumBodySize) bytes")
            )
        } else {
            response = await state.process(request, hooksFor: self)
        }
        if case .body(0, _, _, _) = response { return false }
        if case .upgrade = response { response = .status(APIStatus(code: 400, reason: "BadRequest", message: "Upgrade request required")) }
        do {
            switch response {
            case .upgrade: return false
            case .body(let status, let contentType, let bytes, let extra):
                var responseHeaders = HTTPHeaders()
                if !contentType.isEmpty { responseHeaders.add(name: "Content-Type", value: contentType) }
                responseHeaders.add(name: "Content-Length", value: String(bytes.count))
                if !extra.contains(where: { $0.0.lowercased() == "cache-control" }) {
                    responseHeaders.add(name: "Cache-Control", value: "no-cache, private")
                }
                for (name, value) in extra { responseHeaders.add(name: name, value: value) }
                let responseHead = HTTPResponseHead(
                    version: head.version, status: HTTPResponseStatus(statusCode: status), headers: responseHeaders)
                try await outbound.write(.head(responseHead))
                try await outbound.write(.body(.byteBuffer(ByteBuffer(bytes: bytes))))
                try await outbound.write(.end(nil))
                return head.isKeepAlive
            case .watch(let stream):
                var responseHeaders = HTTPHeaders()
                responseHeaders.add(name: "Content-Type", value: "application/json")
                responseHeaders.add(name: "Transfer-Encoding", value: "chunked")
                responseHeaders.add(name: "Cache-Control", value: "no-cache, private")
                try await outbound.write(.head(HTTPResponseHead(version: head.version, status: .ok, headers: responseHeaders)))
                defer { Task(executorPreference: ServerThreads.shared) { await stream.onEnd() } }
                var headersSent = false
                for event in stream.initial {
                    try await outbound.write(.body(.byteBuffer(Self.eventBuffer(Self.rendered(event, stream.table, &headersSent)))))
                }
                try await withThrowingTaskGroup(of: Bool.self) { group in
                    group.addTask { [headersSent] in
                        var sent = headersSent
                        for await event in stream.live {
                            try await outbound.write(.body(.byteBuffer(Self.eventBuffer(Self.rendered(event, stream.table, &sent)))))
                        }
                        return false
                    }
                    if let seconds = stream.timeoutSeconds {
                        group.addTask {
                            try await Task.sleep(for: .seconds(seconds))
                            await stream.onTimeout()
                            return true
                        }
                    }
                    // At the timeout the live stream ends after its last events (and the bookmark).
                    if try await group.next() == true { _ = try await group.next() }
                    group.cancelAll()
                }
                await stream.onEnd()
                try await outbound.write(.end(nil))
                return head.isKeepAlive
            }
        } catch {
            return false
        }
    }

    /// A watch event as sent: as a Table when the client asked for one, with the column
    /// definitions in the first Table only.
    static func rendered(_ event: JSONValue, _ table: TableRenderer?, _ headersSent: inout Bool) -> JSONValue {
        guard let table else { return event }
        let rendered = table.event(event, headers: !headersSent)
        if rendered["object"]?["kind"] == "Table" { headersSent = true }
        return rendered
    }

    static func eventBuffer(_ event: JSONValue) -> ByteBuffer {
        var bytes = event.serialized()
        bytes.append(UInt8(ascii: "\n"))
        return ByteBuffer(bytes: bytes)
    }
}

extension APIServerState {
    /// Runs matching hooks (outside the actor, so they may call back into the server), then
    /// handles the request unless a hook answered it.
    func process(_ request: APIRequest, hooksFor server: KubeTestServer) async -> APIResponse {
        for hook in claimHooks(for: request) {
            switch await hook.action(request, server) {
            case .proceed: continue
            case .respond(let status, let reason, let message, let retryAfter):
                record(request, status: status)
                return .status(APIStatus(code: status, reason: reason, message: message, retryAfterSeconds: retryAfter))
            case .closeConnection:
                record(request, status: 0)
                return .body(status: 0, contentType: "", body: [], headers: [])
            }
        }
        return process(request)
    }
}
