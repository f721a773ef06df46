import Foundation

/// A small HTTP/1.1 server on 127.0.0.1 for tests: each connection gets a thread, requests on a
/// connection are served in turn (keep-alive), and a handler decides each reply. Handlers may
/// block (waiting for a test to release them), which is how tests strike at a phase.
public final class LoopbackHTTPServer: @unchecked Sendable {
    /// What to do with one request.
    public enum Reply: Sendable {
        /// Send a response and keep the connection open.
        case response(WireResponse)
        /// Close the connection without answering.
        case drop
        /// Reset the connection (RST) without answering.
        case reset
        /// Write to the connection directly (streamed bodies, partial responses); the connection
        /// is closed afterwards.
        case raw(@Sendable (Socket) throws -> Void)
    }

    public let port: Int
    private let listener: Listener
    private let handler: @Sendable (WireRequest) -> Reply
    private let lock = NSLock()
    private var connections: [Socket] = []
    private var accepted = 0
    private var stopped = false

    /// Starts serving on a free port.
    public init(handler: @escaping @Sendable (WireRequest) -> Reply) throws {
        listener = try Listener()
        port = listener.port
        self.handler = handler
        Thread.detachNewThread { [self] in acceptLoop() }
    }

    deinit {
        stop()
    }

    public var baseURL: String { "http://127.0.0.1:\(port)" }

    /// Connections accepted so far (tests of connection reuse count them).
    public var connectionsAccepted: Int {
        lock.lock()
        defer { lock.unlock() }
        return accepted
    }

    public func stop() {
        lock.lock()
        let open = connections
        let wasStopped = stopped
        stopped = true
        connections = []
        lock.unlock()
        if wasStopped { return }
        listener.close()
        for connection in open { connection.close() }
    }

    private func acceptLoop() {
        while let connection = listener.accept() {
            lock.lock()
            if stopped {
                lock.unlock()
                connection.close()
                return
            }
            accepted += 1
            connections.append(connection)
            lock.unlock()
            Thread.detachNewThread { [self] in serve(connection) }
        }
    }

    private func serve(_ connection: Socket) {
        defer {
            connection.close()
            lock.lock()
            connections.removeAll { $0 === connection }
            lock.unlock()
        }
        while true {
            guard let request = try? WireRequest.read(from: connection) else { return }
            switch handler(request) {
            case var .response(response):
                if request.method == "HEAD" && response.header("Content-Length") == nil {
                    response.headers.append(("Content-Length", String(response.body.count)))
                    response.body = []
                } else if request.method == "HEAD" {
                    response.body = []
                }
                guard (try? connection.write(response.serialized())) != nil else { return }
            case .drop:
                return
            case .reset:
                connection.reset()
                return
            case let .raw(write):
                try? write(connection)
                return
            }
        }
    }
}

/// A one-shot signal between threads and tasks, for handlers that wait for a test and tests
/// that wait for a handler. Threads use `wait(timeout:)`; async code must use `opened()`, which
/// does not block a thread of the cooperative pool.
public final class Gate: @unchecked Sendable {
    private let condition = NSCondition()
    private var isOpen = false
    private var waiters: [CheckedContinuation<Void, Never>] = []

    public init() {}

    public func open() {
        condition.lock()
        isOpen = true
        let waiting = waiters
        waiters = []
        condition.broadcast()
        condition.unlock()
        for waiter in waiting { waiter.resume() }
    }

    public var hasOpened: Bool {
        condition.lock()
        defer { condition.unlock() }
        return isOpen
    }

    /// Blocks the calling thread until opened; false if `timeout` passed first (a safety net
    /// against hung tests, not a synchronisation device).
    @discardableResult
    public func wait(timeout: TimeInterval = 60) -> Bool {
        condition.lock()
        defer { condition.unlock() }
        let deadline = Date().addingTimeInterval(timeout)
        while !isOpen {
            if !condition.wait(until: deadline) { return isOpen }
        }
        return true
    }

    /// Suspends until opened.
    public func opened() async {
        await withCheckedContinuation { continuation in
            condition.lock()
            if isOpen {
                condition.unlock()
                continuation.resume()
            } else {
                waiters.append(continuation)
                condition.unlock()
            }
        }
    }
}
