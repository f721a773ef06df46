import CCurl
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// One I/O thread driving a curl multi handle: it starts queued transfers up to the concurrency
/// limit, runs every transfer's callbacks, and completes them. Other threads talk to it only
/// through its inbox (`submit`, `cancel`, `resume`) and `curl_multi_wakeup`.
///
/// The multi handle keeps the connection and DNS caches, so connections are reused by later
/// transfers to the same host. The fields below `inbox` are used only on the engine thread,
/// which is why the class is `@unchecked Sendable`.
final class CurlEngine: @unchecked Sendable {
    private enum Command {
        case start(CurlTransfer)
        case cancel(CurlTransfer)
        case resume(CurlTransfer)
    }

    private struct Inbox {
        var commands: [Command] = []
        var stopping = false
    }

    private let inbox = Mutex(Inbox())
    private let multi: UnsafeMutableRawPointer
    private let configuration: HTTPClientConfiguration
    private let resolveList: UnsafeMutablePointer<curl_slist>?

    // Engine thread only.
    private var running: [UnsafeMutableRawPointer: CurlTransfer] = [:]
    private var waiting: [CurlTransfer] = []
    private var idleHandles: [EasyHandle] = []

    init(configuration: HTTPClientConfiguration) {
        CurlGlobal.ensureInitialized()
        self.configuration = configuration
        multi = curl_multi_init()!
        _ = ferry_curl_multi_setopt_long(multi, CURLMOPT_MAX_HOST_CONNECTIONS, configuration.maxConnectionsPerHost)
        _ = ferry_curl_multi_setopt_long(
            multi, CURLMOPT_MAXCONNECTS, max(configuration.maxConnectionsPerHost, configuration.maxConcurrentTransfers))
        var list: UnsafeMutablePointer<curl_slist>?
        for entry in configuration.resolve {
            list = curl_slist_append(list, entry)
        }
        resolveList = list
    }

    deinit {
        curl_multi_cleanup(multi)
        if let resolveList { curl_slist_free_all(resolveList) }
    }

    /// Starts the engine thread. It holds the engine until `stop` is called.
    func start() {
        PosixThread.spawn { [self] in run() }
    }

    // MARK: - Inbox (any thread)

    func submit(_ transfer: CurlTransfer) {
        if !post(.start(transfer)) {
            transfer.complete(.failure(.shutdown))
        }
    }

    func cancel(_ transfer: CurlTransfer) {
        transfer.cancelRequested.store(true, ordering: .sequentiallyConsistent)
        post(.cancel(transfer))
    }

    func resume(_ transfer: CurlTransfer) {
        post(.resume(transfer))
    }

    /// Fails every transfer with `HTTPError.shutdown` and ends the thread.
    func stop() {
        inbox.withLock { $0.stopping = true }
        curl_multi_wakeup(multi)
    }

    func control(for transfer: CurlTransfer) -> TransferControl {
        TransferControl(
            resume: { [self] in resume(transfer) },
            cancel: { [self] in cancel(transfer) })
    }

    @discardableResult
    private func post(_ command: Command) -> Bool {
        let accepted = inbox.withLock { inbox -> Bool in
            if inbox.stopping { return false }
            inbox.commands.append(command)
            return true
        }
        if accepted { curl_multi_wakeup(multi) }
        return accepted
    }

    // MARK: - Engine thread

    private func run() {
        while true {
            let (commands, stopping) = inbox.withLock { inbox in
                defer { inbox.commands = [] }
                return (inbox.commands, inbox.stopping)
            }
            for command in commands { handle(command) }
            if stopping {
                failEverything()
                return
            }
            startWaiting()
            var stillRunning: Int32 = 0
            curl_multi_perform(multi, &stillRunning)
            collectFinished()
            if !waiting.isEmpty && running.count < configuration.maxConcurrentTransfers { continue }
            var ready: Int32 = 0
            curl_multi_poll(multi, nil, 0, 1000, &ready)
        }
    }

    private func handle(_ command: Command) {
        switch command {
        case let .start(transfer):
            if transfer.cancelRequested.load(ordering: .sequentiallyConsistent) {
                transfer.complete(.failure(.cancelled(url: transfer.redactedURL)))
            } else {
                waiting.append(transfer)
            }
        case let .cancel(transfer):
            guard !transfer.finished else { return }
            if let easy = transfer.easy, running[easy.handle] != nil {
                finish(easy.handle, error: .cancelled(url: transfer.redactedURL))
            } else if let index = waiting.firstIndex(where: { $0 === transfer }) {
                waiting.remove(at: index)
                transfer.complete(.failure(.cancelled(url: transfer.redactedURL)))
            }
        case let .resume(transfer):
            if let easy = transfer.easy, running[easy.handle] != nil {
                curl_easy_pause(easy.handle, ferry_curl_pause_cont())
            }
        }
    }

    private func startWaiting() {
        while running.count < configuration.maxConcurrentTransfers && !waiting.isEmpty {
            let transfer = waiting.removeFirst()
            let easy = idleHandles.popLast() ?? EasyHandle()
            guard let easy else {
                transfer.complete(.failure(.transport(url: transfer.redactedURL, code: 27, detail: "curl_easy_init failed: out of memory")))
                continue
            }
            do {
                try configure(easy, for: transfer)
            } catch {
                recycle(easy)
                transfer.complete(.failure(error))
                continue
            }
            transfer.easy = easy
            running[easy.handle] = transfer
            let code = curl_multi_add_handle(multi, easy.handle)
            if code != CURLM_OK {
                finish(
                    easy.handle,
                    error: .transport(
                        url: transfer.redactedURL, code: Int(code.rawValue), detail: String(cString: curl_multi_strerror(code))))
            }
        }
    }

    private func collectFinished() {
        var remaining: Int32 = 0
        while let message = curl_multi_info_read(multi, &remaining) {
            guard message.pointee.msg == CURLMSG_DONE, let handle = message.pointee.easy_handle else { continue }
            let code = message.pointee.data.result
            guard let transfer = running[handle] else { continue }
            finish(handle, error: code == CURLE_OK ? nil : CurlErrors.map(code, transfer: transfer, easy: transfer.easy!))
        }
    }

    private func finish(_ handle: UnsafeMutableRawPointer, error: HTTPError?) {
        guard let transfer = running.removeValue(forKey: handle) else { return }
        curl_multi_remove_handle(multi, handle)
        if let easy = transfer.easy {
            if transfer.status == 0 { transfer.status = easy.info(CURLINFO_RESPONSE_CODE) }
            transfer.easy = nil
            recycle(easy)
        }
        transfer.complete(error.map { .failure($0) } ?? .success(()))
    }

    private func recycle(_ easy: EasyHandle) {
        easy.reset()
        if idleHandles.count < configuration.maxConcurrentTransfers { idleHandles.append(easy) }
    }

    private func failEverything() {
        for handle in Array(running.keys) { finish(handle, error: .shutdown) }
        for transfer in waiting { transfer.complete(.failure(.shutdown)) }
        waiting = []
        idleHandles = []
        // Commands posted after the last drain may still hold transfers.
        let late = inbox.withLock { inbox in
            defer { inbox.commands = [] }
            return inbox.commands
        }
        for case let .start(transfer) in late { transfer.complete(.failure(.shutdown)) }
    }

    // MARK: - Options

    private func configure(_ easy: EasyHandle, for transfer: CurlTransfer) throws(HTTPError) {
        let request = transfer.request
        let userdata = Unmanaged.passUnretained(transfer).toOpaque()
        try easy.set(CURLOPT_URL, request.url)
        try easy.set(CURLOPT_PROTOCOLS_STR, "http,https")
        try easy.set(CURLOPT_ERRORBUFFER, pointer: UnsafeMutableRawPointer(easy.errorBuffer))
        try easy.set(CURLOPT_NOSIGNAL, true)
        try easy.set(CURLOPT_TCP_KEEPALIVE, true)
        try easy.set(CURLOPT_USERAGENT, configuration.userAgent)
        try easy.set(CURLOPT_HEADERFUNCTION, callback: CurlCallbacks.header)
        try easy.set(CURLOPT_HEADERDATA, pointer: userdata)
        try easy.set(CURLOPT_WRITEFUNCTION, callback: CurlCallbacks.write)
        try easy.set(CURLOPT_WRITEDATA, pointer: userdata)
        try easy.set(CURLOPT_BUFFERSIZE, 256 << 10)
        try easy.set(CURLOPT_UPLOAD_BUFFERSIZE, 1 << 20)
        switch configuration.httpVersion {
        case .http1_1: try easy.set(CURLOPT_HTTP_VERSION, Int(CURL_HTTP_VERSION_1_1))
        case .http2: try easy.set(CURLOPT_HTTP_VERSION, Int(CURL_HTTP_VERSION_2TLS))
        }
        if let resolveList { try easy.set(CURLOPT_RESOLVE, list: resolveList) }

        let timeouts = request.timeouts ?? configuration.timeouts
        try easy.set(CURLOPT_CONNECTTIMEOUT_MS, timeouts.connect.milliseconds)
        try easy.set(CURLOPT_TIMEOUT_MS, timeouts.total?.milliseconds ?? 0)
        if let stall = timeouts.stall {
            try easy.set(CURLOPT_LOW_SPEED_LIMIT, 1)
            try easy.set(CURLOPT_LOW_SPEED_TIME, max(1, stall.milliseconds / 1000))
        }

        try easy.apply(configuration.tls)

        let method = request.method
        let length = request.body.length
        let hasBody = length != 0
        if method == .head {
            try easy.set(CURLOPT_NOBODY, true)
        } else if method == .get && !hasBody {
            try easy.set(CURLOPT_HTTPGET, true)
        } else if hasBody || method == .put || method == .post || method == .patch {
            try easy.set(CURLOPT_UPLOAD, true)
            try easy.set(CURLOPT_INFILESIZE_LARGE, offset: length ?? -1)
            try easy.set(CURLOPT_READFUNCTION, callback: CurlCallbacks.read)
            try easy.set(CURLOPT_READDATA, pointer: userdata)
            guard ferry_curl_easy_setopt_seek(easy.handle, CurlCallbacks.seek) == CURLE_OK else {
                throw HTTPError.invalidRequest("setting the curl seek callback failed")
            }
            try easy.set(CURLOPT_SEEKDATA, pointer: userdata)
            if method != .put { try easy.set(CURLOPT_CUSTOMREQUEST, method.rawValue) }
        } else {
            try easy.set(CURLOPT_CUSTOMREQUEST, method.rawValue)
        }

        var list: UnsafeMutablePointer<curl_slist>?
        for (name, value) in request.headers {
            // "Name;" is curl's way to send a header with an empty value.
            list = curl_slist_append(list, value.isEmpty ? "\(name);" : "\(name): \(value)")
        }
        if hasBody && !configuration.expectContinue && !request.headers.contains("Expect") {
            list = curl_slist_append(list, "Expect:")
        }
        easy.headerList = list
        if let list { try easy.set(CURLOPT_HTTPHEADER, list: list) }
    }
}

extension Duration {
    var milliseconds: Int {
        let (seconds, attoseconds) = components
        return Int(seconds) * 1000 + Int(attoseconds / 1_000_000_000_000_000)
    }
}

/// libcurl's process-wide initialisation, done once before the first handle.
enum CurlGlobal {
    private static let initialized: Bool = {
        curl_global_init(ferry_curl_global_all()) == CURLE_OK
    }()

    static func ensureInitialized() {
        _ = initialized
    }
}

/// A detached POSIX thread running a closure.
enum PosixThread {
    private final class Body {
        let run: () -> Void
        init(_ run: @escaping () -> Void) { self.run = run }
    }

    static func spawn(_ run: @escaping () -> Void) {
        let context = Unmanaged.passRetained(Body(run)).toOpaque()
        var thread = pthread_t()
        let result = pthread_create(
            &thread, nil,
            { context in
                let body = Unmanaged<Body>.fromOpaque(context!).takeRetainedValue()
                body.run()
                return nil
            }, context)
        precondition(result == 0, "pthread_create failed: \(result)")
        pthread_detach(thread)
    }
}
