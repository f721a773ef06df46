import Foundation

/// An HTTP proxy between a client and an S3 server that injects faults into chosen requests:
/// chosen by the order in which requests arrive or by what they name (an object key, a method),
/// never by timers. Every request it sees is logged.
public final class FaultProxy: @unchecked Sendable {
    public enum Fault: Sendable, Equatable {
        /// Answer with this status and S3 error code without forwarding ("SlowDown" with 503).
        case respond(status: Int, code: String)
        /// Close the connection before forwarding: the server never sees the request.
        case dropBeforeForwarding
        /// Forward, then close without answering: the server did the work, the client never hears.
        case dropAfterForwarding
        /// Forward, then reset the connection (RST) without answering.
        case resetAfterForwarding
        /// Forward, then send the headers and half of the body and close.
        case truncateResponse
        /// Forward, then send the response with some body bytes flipped.
        case corruptBody
    }

    /// Which requests a fault strikes.
    public struct Rule: Sendable {
        public var method: String?
        /// A substring of the request target, path and query ("packs/ab", "list-type=2").
        public var targetContains: String?
        /// Only the request with this 1-based number through the proxy.
        public var requestNumber: Int?
        /// A further condition on the request and everything logged before it.
        public var when: (@Sendable (WireRequest, [Entry]) -> Bool)?
        /// The fault to inject; nil forwards the request normally (with `onMatch` only).
        public var fault: Fault?
        /// Runs on the proxy's thread when the rule strikes, before the fault: tests kill or
        /// restart the server here, at exactly this request.
        public var onMatch: (@Sendable () -> Void)?
        /// How many matching requests it strikes before it is spent.
        public var times: Int

        public init(
            method: String? = nil, targetContains: String? = nil, requestNumber: Int? = nil,
            when: (@Sendable (WireRequest, [Entry]) -> Bool)? = nil, fault: Fault? = nil, onMatch: (@Sendable () -> Void)? = nil,
            times: Int = 1
        ) {
            self.method = method
            self.targetContains = targetContains
            self.requestNumber = requestNumber
            self.when = when
            self.fault = fault
            self.onMatch = onMatch
            self.times = times
        }

        func matches(_ request: WireRequest, number: Int, log: [Entry]) -> Bool {
            if let method, method != request.method { return false }
            if let targetContains, !request.target.contains(targetContains) { return false }
            if let requestNumber, requestNumber != number { return false }
            if let when, !when(request, log) { return false }
            return true
        }
    }

    /// One request the proxy handled.
    public struct Entry: Sendable {
        public var number: Int
        public var method: String
        public var target: String
        public var headers: [(name: String, value: String)]
        /// The fault injected, if any.
        public var fault: Fault?
        /// The server's status when the request was forwarded and answered.
        public var status: Int?
    }

    public let port: Int
    public let upstreamPort: Int
    private let listener: Listener
    private let lock = NSLock()
    private var rules: [Rule] = []
    private var entries: [Entry] = []
    private var count = 0
    private var connections: [Socket] = []
    private var stopped = false

    public init(upstreamPort: Int) throws {
        listener = try Listener()
        port = listener.port
        self.upstreamPort = upstreamPort
        Thread.detachNewThread { [self] in acceptLoop() }
    }

    deinit {
        stop()
    }

    public var endpoint: String { "http://127.0.0.1:\(port)" }

    public func add(_ rule: Rule) {
        lock.lock()
        rules.append(rule)
        lock.unlock()
    }

    public func removeAllRules() {
        lock.lock()
        rules = []
        lock.unlock()
    }

    public var log: [Entry] {
        lock.lock()
        defer { lock.unlock() }
        return entries
    }

    /// How many requests got `fault`.
    public func injected(_ fault: Fault) -> Int {
        log.filter { $0.fault == fault }.count
    }

    public func stop() {
        lock.lock()
        let wasStopped = stopped
        stopped = true
        let open = connections
        connections = []
        lock.unlock()
        if wasStopped { return }
        listener.close()
        for connection in open { connection.close() }
    }

    private func acceptLoop() {
        while let client = listener.accept() {
            lock.lock()
            if stopped {
                lock.unlock()
                client.close()
                return
            }
            connections.append(client)
            lock.unlock()
            Thread.detachNewThread { [self] in serve(client) }
        }
    }

    private func serve(_ client: Socket) {
        defer {
            client.close()
            lock.lock()
            connections.removeAll { $0 === client }
            lock.unlock()
        }
        while true {
            guard let request = try? WireRequest.read(from: client) else { return }
            lock.lock()
            count += 1
            let number = count
            var fault: Fault?
            var onMatch: (@Sendable () -> Void)?
            if let index = rules.firstIndex(where: { $0.times > 0 && $0.matches(request, number: number, log: entries) }) {
                fault = rules[index].fault
                onMatch = rules[index].onMatch
                rules[index].times -= 1
            }
            entries.append(Entry(number: number, method: request.method, target: request.target, headers: request.headers, fault: fault))
            lock.unlock()
            onMatch?()

            switch fault {
            case let .respond(status, code)?:
                let body = Array(
                    ("<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>\(code)</Code>"
                        + "<Message>injected by the test proxy</Message></Error>").utf8)
                var response = WireResponse(status: status, headers: [("Content-Type", "application/xml")], body: body)
                if request.method == "HEAD" {
                    response.headers.append(("Content-Length", "0"))
                    response.body = []
                }
                guard (try? client.write(response.serialized())) != nil else { return }
                continue
            case .dropBeforeForwarding?:
                return
            default:
                break
            }

            guard let response = forward(request) else { return }
            record(number: number, status: response.status)
            switch fault {
            case .dropAfterForwarding?:
                return
            case .resetAfterForwarding?:
                client.reset()
                return
            case .truncateResponse?:
                let full = response.serialized()
                _ = try? client.write(Array(full[..<(full.count - max(1, response.body.count / 2))]))
                return
            case .corruptBody?:
                var damaged = response
                if !damaged.body.isEmpty {
                    for index in stride(from: damaged.body.count / 3, to: damaged.body.count, by: max(1, damaged.body.count / 5)) {
                        damaged.body[index] ^= 0x5A
                    }
                }
                guard (try? client.write(damaged.serialized())) != nil else { return }
            default:
                guard (try? client.write(response.serialized())) != nil else { return }
            }
        }
    }

    private func forward(_ request: WireRequest) -> WireResponse? {
        guard let upstream = try? Socket.connect(port: upstreamPort) else { return nil }
        defer { upstream.close() }
        var outgoing = request
        outgoing.headers.removeAll { $0.name.lowercased() == "connection" }
        outgoing.headers.append(("Connection", "close"))
        guard (try? upstream.write(outgoing.serialized())) != nil else { return nil }
        return try? WireResponse.read(from: upstream, headRequest: request.method == "HEAD")
    }

    private func record(number: Int, status: Int) {
        lock.lock()
        if let index = entries.lastIndex(where: { $0.number == number }) { entries[index].status = status }
        lock.unlock()
    }
}
