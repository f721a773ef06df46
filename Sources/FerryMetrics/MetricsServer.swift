import NIOCore
import NIOHTTP1
import NIOPosix

/// Serves `GET /metrics` (Prometheus text format, from a `ClusterMetrics` registry) and
/// `GET /healthz` over plain HTTP/1.1, for the coordinator and the agents (`--metrics-address`).
public struct MetricsServer: Sendable {
    public let metrics: ClusterMetrics

    public init(metrics: ClusterMetrics) {
        self.metrics = metrics
    }

    /// Listens on `host:port` until the task is cancelled; `started` hears the bound port.
    public func run(host: String, port: Int, started: @Sendable (Int) -> Void = { _ in }) async throws {
        let server = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .bind(host: host, port: port) { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline(withErrorHandling: true)
                    return try NIOAsyncChannel<HTTPServerRequestPart, HTTPServerResponsePart>(wrappingChannelSynchronously: channel)
                }
            }
        started(server.channel.localAddress?.port ?? port)
        try await withTaskCancellationHandler {
            try await withThrowingDiscardingTaskGroup { group in
                try await server.executeThenClose { connections in
                    for try await connection in connections {
                        group.addTask { try? await serve(connection) }
                    }
                }
            }
        } onCancel: {
            server.channel.close(promise: nil)
        }
    }

    private func serve(_ connection: NIOAsyncChannel<HTTPServerRequestPart, HTTPServerResponsePart>) async throws {
        try await connection.executeThenClose { inbound, outbound in
            for try await part in inbound {
                guard case .head(let head) = part else { continue }
                let (status, type, body): (HTTPResponseStatus, String, [UInt8])
                switch (head.method, head.uri.split(separator: "?").first ?? "") {
                case (.GET, "/metrics"):
                    (status, type, body) = (.ok, "text/plain; version=0.0.4; charset=utf-8", metrics.registry.emitToBuffer())
                case (.GET, "/healthz"): (status, type, body) = (.ok, "text/plain; charset=utf-8", Array("ok\n".utf8))
                default: (status, type, body) = (.notFound, "text/plain; charset=utf-8", Array("not found\n".utf8))
                }
                var headers = HTTPHeaders()
                headers.add(name: "Content-Type", value: type)
                headers.add(name: "Content-Length", value: String(body.count))
                try await outbound.write(.head(HTTPResponseHead(version: head.version, status: status, headers: headers)))
                try await outbound.write(.body(.byteBuffer(ByteBuffer(bytes: body))))
                try await outbound.write(.end(nil))
                if !head.isKeepAlive { return }
            }
        }
    }
}
