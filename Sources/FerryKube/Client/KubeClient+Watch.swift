import FerryHTTP

extension KubeClient {
    /// One watch connection: events after `resourceVersion` (or, without one, synthetic ADDED
    /// events for what exists, then changes) until the server ends the watch. An ERROR event
    /// ends the stream with its error (410 Gone → `KubeError.gone`: relist).
    public func watch(
        _ resource: APIResource, namespace: String?, resourceVersion: String?, labelSelector: String? = nil,
        fieldSelector: String? = nil, allowBookmarks: Bool = true, timeoutSeconds: Int? = 300
    ) -> AsyncThrowingStream<WatchEvent, any Error> {
        var query: [(String, String)] = [("watch", "true")]
        if let resourceVersion { query.append(("resourceVersion", resourceVersion)) }
        if let labelSelector, !labelSelector.isEmpty { query.append(("labelSelector", labelSelector)) }
        if let fieldSelector, !fieldSelector.isEmpty { query.append(("fieldSelector", fieldSelector)) }
        if allowBookmarks { query.append(("allowWatchBookmarks", "true")) }
        if let timeoutSeconds { query.append(("timeoutSeconds", String(timeoutSeconds))) }
        let path = resource.path(namespace: resource.namespaced ? namespace : nil)
        let (stream, continuation) = AsyncThrowingStream<WatchEvent, any Error>.makeStream()
        let task = Task {
            do {
                try await self.streamWatch(path: path, query: query) { event in
                    continuation.yield(event)
                }
                continuation.finish()
            } catch {
                continuation.finish(throwing: error)
            }
        }
        continuation.onTermination = { _ in task.cancel() }
        return stream
    }

    func streamWatch(path: String, query: [(String, String)], _ deliver: (WatchEvent) -> Void) async throws(KubeError) {
        try await limiterAcquire()
        let creds = try await credentials.credentials()
        let client = try httpClient(for: creds)
        var headers = HTTPHeaders()
        headers.add("Accept", "application/json")
        if let authorization = creds.authorization { headers.add("Authorization", authorization) }
        let request = HTTPRequest(
            method: .get, url: url(path, query: query), headers: headers,
            timeouts: HTTPTimeouts(connect: configuration.connectTimeout, total: nil, stall: nil))
        let response: HTTPStreamingResponse
        do {
            response = try await client.stream(request)
            observe("GET", path, query: query, status: response.status)
        } catch {
            observe("GET", path, query: query, status: 0)
            throw Self.mapTransport(error, server: configuration.server)
        }
        guard response.status == 200 else {
            let body = (try? await response.body.collect(upTo: 1 << 20)) ?? []
            if response.status == 401 { await credentials.invalidate() }
            throw Self.error(status: response.status, body: body)
        }
        do {
            for try await line in response.body.lines where !line.isEmpty {
                if Task.isCancelled {
                    response.body.cancel()
                    return
                }
                let json: JSONValue
                do {
                    json = try JSONValue(parsing: line)
                } catch {
                    throw KubeError.invalidResponse("watch \(path): \(error)")
                }
                deliver(try WatchEvent(json: json))
            }
        } catch let error as KubeError {
            response.body.cancel()
            throw error
        } catch let error as HTTPError {
            if case .cancelled = error { return }
            throw Self.mapTransport(error, server: configuration.server)
        } catch {
            throw KubeError.invalidResponse("watch \(path): \(error)")
        }
    }

    func limiterAcquire() async throws(KubeError) {
        do {
            try await limiter.acquire()
        } catch {
            throw KubeError.unreachable(server: configuration.server, reason: "cancelled")
        }
    }

    /// List, then watch from the list's resourceVersion, forever: watches that end are resumed
    /// from the last seen resourceVersion (bookmarks included); a 410 Gone relists and reports
    /// the full set again. Ends only when the consumer stops or on a non-recoverable error.
    public func listAndWatch(
        _ resource: APIResource, namespace: String?, labelSelector: String? = nil, fieldSelector: String? = nil,
        pageSize: Int = 500, timeoutSeconds: Int? = 300
    ) -> AsyncThrowingStream<ListWatchEvent, any Error> {
        let (stream, continuation) = AsyncThrowingStream<ListWatchEvent, any Error>.makeStream()
        let task = Task {
            var resourceVersion: String?
            var failures = 0
            while !Task.isCancelled {
                do {
                    if resourceVersion == nil {
                        var items: [KubeObject] = []
                        let version = try await self.forEachPage(
                            resource, namespace: namespace, labelSelector: labelSelector, fieldSelector: fieldSelector, pageSize: pageSize
                        ) { items += $0 }
                        resourceVersion = version
                        continuation.yield(.synced(items, resourceVersion: version))
                    }
                    for try await event in self.watch(
                        resource, namespace: namespace, resourceVersion: resourceVersion, labelSelector: labelSelector,
                        fieldSelector: fieldSelector, allowBookmarks: true, timeoutSeconds: timeoutSeconds)
                    {
                        if let version = event.resourceVersion, !version.isEmpty { resourceVersion = version }
                        if case .bookmark = event {} else { continuation.yield(.event(event)) }
                        failures = 0
                    }
                } catch let error as KubeError {
                    if case .gone = error {
                        resourceVersion = nil
                        continue
                    }
                    if case .unreachable = error, failures < self.configuration.maxRetries {
                        failures += 1
                        try? await self.backoff(attempt: failures, retryAfter: nil)
                        continue
                    }
                    continuation.finish(throwing: error)
                    return
                } catch {
                    continuation.finish(throwing: error)
                    return
                }
            }
            continuation.finish()
        }
        continuation.onTermination = { _ in task.cancel() }
        return stream
    }
}
