import FerryKube
import Foundation
import NIOCore
import NIOHTTP1
import NIOWebSocket
import Synchronization

/// A connection after the first request: plain HTTP, or a pods/exec session on WebSocket.
enum ServerConnection: Sendable {
    case http(NIOAsyncChannel<HTTPServerRequestPart, HTTPServerResponsePart>)
    case exec(NIOAsyncChannel<WebSocketFrame, WebSocketFrame>, ExecSession?)
}

/// The session an accepted upgrade carries from `shouldUpgrade` to the upgraded pipeline.
final class PendingExec: Sendable {
    let session = Mutex<ExecSession?>(nil)
}

extension KubeTestServer {
    /// Decides a WebSocket upgrade: a pods/exec request that passes authentication,
    /// authorization and the pod checks, offering a subprotocol this server speaks, is upgraded
    /// (the response names the subprotocol). Any other is answered here as the plain request
    /// (the error kube-apiserver gives, or 400 Upgrade request required) and the connection
    /// closed: NIO's upgrade handler does not pass a refused upgrade request on.
    func upgradeHeaders(for head: HTTPRequestHead, channel: Channel, pending: PendingExec) async throws -> HTTPHeaders {
        var headers: [String: String] = [:]
        for (name, value) in head.headers {
            let key = name.lowercased()
            headers[key] = headers[key].map { "\($0), \(value)" } ?? value
        }
        let offered = (headers["sec-websocket-protocol"] ?? "").split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
        let chosen = offered.first(where: { APIServerState.execSubprotocols.contains($0) })
        var request = APIRequest(method: head.method.rawValue, target: head.uri, headers: headers, body: [])
        request.upgrading = chosen != nil
        var answer = await state.process(request, hooksFor: self)
        if case .upgrade(var session) = answer, let chosen {
            session.subprotocol = chosen
            pending.session.withLock { $0 = session }
            var response = HTTPHeaders()
            response.add(name: "Sec-WebSocket-Protocol", value: chosen)
            return response
        }
        try await answerPlainly(answer, head: head, channel: channel)
    }

    /// Answers an upgrade request the server does not upgrade as the plain request it is (a
    /// watch or an `.upgrade` as 400 Upgrade request required), closes the connection, throws.
    func answerPlainly(_ answer: APIResponse, head: HTTPRequestHead, channel: Channel) async throws -> Never {
        var answer = answer
        if case .body = answer {
        } else {
            answer = .status(APIStatus(code: 400, reason: "BadRequest", message: "Upgrade request required"))
        }
        if case .body(let status, let contentType, let bytes, let extra) = answer {
            var responseHeaders = HTTPHeaders()
            if !contentType.isEmpty { responseHeaders.add(name: "Content-Type", value: contentType) }
            responseHeaders.add(name: "Content-Length", value: String(bytes.count))
            responseHeaders.add(name: "Cache-Control", value: "no-cache, private")
            responseHeaders.add(name: "Connection", value: "close")
            for (name, value) in extra { responseHeaders.add(name: name, value: value) }
            let responseHead = HTTPResponseHead(
                version: head.version, status: HTTPResponseStatus(statusCode: status), headers: responseHeaders)
            channel.write(HTTPServerResponsePart.head(responseHead), promise: nil)
            channel.write(HTTPServerResponsePart.body(.byteBuffer(ByteBuffer(bytes: bytes))), promise: nil)
            try? await channel.writeAndFlush(HTTPServerResponsePart.end(nil))
        }
        try? await channel.close()
        throw RefusedUpgrade()
    }

    /// The request head as the state handles requests.
    static func apiRequest(_ head: HTTPRequestHead) -> APIRequest {
        var headers: [String: String] = [:]
        for (name, value) in head.headers {
            let key = name.lowercased()
            headers[key] = headers[key].map { "\($0), \(value)" } ?? value
        }
        return APIRequest(method: head.method.rawValue, target: head.uri, headers: headers, body: [])
    }

    struct RefusedUpgrade: Error {}

    /// Runs an exec session: kube-apiserver's remotecommand WebSocket protocol (v4/v5
    /// channel.k8s.io). Every binary message starts with its channel: 0 stdin, 1 stdout,
    /// 2 stderr, 3 error (a metav1.Status when the command ends: Success, or Failure with
    /// reason NonZeroExitCode and the exit code as the cause ExitCode), 4 resize (ignored: no
    /// terminal); v5 adds 255 + channel, the client closing that stream (stdin). The server
    /// answers pings, and closes with a normal closure after the Status.
    func serveExec(_ connection: NIOAsyncChannel<WebSocketFrame, WebSocketFrame>, _ session: ExecSession?) async {
        try? await connection.executeThenClose { inbound, outbound in
            guard let session else { return }
            let sandbox = ExecSandbox(session, timeout: options.execTimeout)
            let send = { @Sendable (channel: UInt8, bytes: [UInt8]) async in
                var offset = 0
                repeat {
                    let end = min(bytes.count, offset + 32 << 10)
                    var buffer = ByteBuffer()
                    buffer.writeInteger(channel)
                    buffer.writeBytes(bytes[offset..<end])
                    try? await outbound.write(WebSocketFrame(fin: true, opcode: .binary, data: buffer))
                    offset = end
                } while offset < bytes.count
            }
            let close = { @Sendable in
                var data = ByteBuffer()
                data.write(webSocketErrorCode: .normalClosure)
                try? await outbound.write(WebSocketFrame(fin: true, opcode: .connectionClose, data: data))
            }
            do {
                try sandbox.prepare()
            } catch {
                await send(3, Self.execStatus(failure: "cannot prepare the sandbox: \(error)", exitCode: nil))
                await close()
                return
            }
            // Standard input, when asked for, is the whole stream: the command starts once the
            // client closed it (v5's close signal, or the connection).
            let (started, start) = AsyncStream<Bool>.makeStream()
            if !session.stdin { start.yield(true) }
            let outcome = await withTaskGroup(of: ExecSandbox.Outcome?.self) { group in
                group.addTask {
                    var message: [UInt8] = []
                    var stdinOpen = session.stdin
                    do {
                        for try await frame in inbound {
                            switch frame.opcode {
                            case .binary, .text, .continuation:
                                message += frame.unmaskedData.readableBytesView
                                guard frame.fin else { continue }
                                defer { message = [] }
                                guard stdinOpen, let channel = message.first else { continue }
                                if channel == 0 {
                                    sandbox.appendStdin(Array(message.dropFirst()))
                                } else if channel == 255, message.dropFirst().first == 0 {
                                    stdinOpen = false
                                    start.yield(true)
                                }
                            case .ping:
                                try? await outbound.write(WebSocketFrame(fin: true, opcode: .pong, data: frame.unmaskedData))
                            case .connectionClose:
                                if stdinOpen { start.yield(false) }
                                stdinOpen = false
                                sandbox.kill()
                            default: continue
                            }
                        }
                    } catch {}
                    // The client went away: the command is killed, as the kubelet does.
                    if stdinOpen { start.yield(false) }
                    sandbox.kill()
                    return nil
                }
                group.addTask {
                    var go = false
                    for await value in started {
                        go = value
                        break
                    }
                    guard go else { return nil }
                    let outcome = await sandbox.run { channel, bytes in await send(channel, bytes) }
                    await Self.finish(outcome, session, send: send)
                    await close()
                    return outcome
                }
                var result: ExecSandbox.Outcome?
                for await value in group {
                    if let value {
                        result = value
                        group.cancelAll()
                    }
                }
                return result
            }
            _ = outcome
        }
    }

    /// Writes how the command ended on the error channel.
    static func finish(_ outcome: ExecSandbox.Outcome, _ session: ExecSession, send: (UInt8, [UInt8]) async -> Void) async {
        if let failure = outcome.startError {
            if session.stderr { await send(2, Array((failure + "\n").utf8)) }
            await send(3, execStatus(failure: failure, exitCode: outcome.exitCode))
        } else if outcome.exitCode != 0 {
            let text = session.command.joined(separator: " ")
            let message = "command terminated with non-zero exit code: error executing command [\(text)], exit code \(outcome.exitCode)"
            await send(3, execStatus(failure: message, exitCode: outcome.exitCode))
        } else {
            await send(3, Array(#"{"metadata":{},"status":"Success"}"#.utf8))
        }
    }

    /// The Status written on the error channel for a command that failed.
    static func execStatus(failure message: String, exitCode: Int32?) -> [UInt8] {
        var status: JSONValue = ["metadata": [:], "status": "Failure", "message": .string(message)]
        if let exitCode {
            status["reason"] = "NonZeroExitCode"
            status["details"] = ["causes": [["reason": "ExitCode", "message": .string(String(exitCode))]]]
        } else {
            status["reason"] = "InternalError"
        }
        return status.serialized()
    }
}

/// SPDY/3.1, which kubectl falls back to when a WebSocket upgrade is refused: never upgraded,
/// the request is answered as a plain one (the API error, or 400 Upgrade request required).
/// Without it NIO's upgrade handler would drop the request (it passes on only requests that
/// asked for no upgrade).
struct RefusingUpgrader: NIOTypedHTTPServerProtocolUpgrader {
    typealias UpgradeResult = ServerConnection
    let supportedProtocol: String
    let requiredUpgradeHeaders: [String] = []
    let server: KubeTestServer

    func buildUpgradeResponse(channel: Channel, upgradeRequest: HTTPRequestHead, initialResponseHeaders: HTTPHeaders)
        -> EventLoopFuture<HTTPHeaders>
    {
        let promise = channel.eventLoop.makePromise(of: HTTPHeaders.self)
        let server = self.server
        promise.completeWithTask {
            let answer = await server.state.process(KubeTestServer.apiRequest(upgradeRequest), hooksFor: server)
            try await server.answerPlainly(answer, head: upgradeRequest, channel: channel)
        }
        return promise.futureResult
    }

    func upgrade(channel: Channel, upgradeRequest: HTTPRequestHead) -> EventLoopFuture<ServerConnection> {
        channel.eventLoop.makeFailedFuture(KubeTestServer.RefusedUpgrade())
    }
}
