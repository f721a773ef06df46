import FerryKube
import Foundation

/// The test server's state: stored objects, the resourceVersion clock, watch history and live
/// watchers, and the test controls (denials, hooks, request log). All API semantics run here.
actor APIServerState {
    typealias StorageKey = ResourceRegistry.StorageKey

    /// Where an object lives within a resource: namespace ("" when cluster-scoped) and name.
    struct ObjectKey: Hashable, Comparable, Sendable {
        var namespace: String
        var name: String
        static func < (a: ObjectKey, b: ObjectKey) -> Bool { (a.namespace, a.name) < (b.namespace, b.name) }
        var token: String { "\(namespace)/\(name)" }
    }

    /// One stored object by kind and key.
    struct StoredObject: Hashable, Sendable {
        var storageKey: StorageKey
        var key: ObjectKey
    }

    struct StoredEvent: Sendable {
        var resourceVersion: UInt64
        var type: String
        var key: StorageKey
        var object: JSONValue
        var previous: JSONValue?
    }

    struct Watcher {
        var entry: ResourceRegistry.Entry
        var namespace: String?
        var labels: LabelSelector
        var fields: FieldSelector
        var bookmarks: Bool
        var continuation: AsyncStream<JSONValue>.Continuation
    }

    let options: KubeTestServer.Options
    var registry: ResourceRegistry
    var store: [StorageKey: [ObjectKey: JSONValue]] = [:] {
        didSet {
            sortedKeysCache.removeAll(keepingCapacity: true)
            storeVersion &+= 1
        }
    }
    /// Counts changes of `store`: the controllers that scan it run only after one.
    var storeVersion: UInt64 = 0
    /// `storeVersion` when the deletion controllers last scanned the store.
    var deletionControllersSaw: UInt64 = .max
    /// The objects with a deletion timestamp (kept from every recorded change), all the deletion
    /// controllers look at: a scan of the whole store per write made a 40,000-object cluster
    /// take ~80 ms per create.
    var terminating: Set<StoredObject> = []
    /// Keys of each resource in list order, rebuilt after writes (lists page through them).
    var sortedKeysCache: [StorageKey: [ObjectKey]] = [:]
    var uidIndex: [String: (StorageKey, ObjectKey)] = [:]
    var clock: UInt64 = 1
    var history: [StoredEvent] = []
    var historyStart = 0
    /// Watches and continue tokens from resourceVersions below this are answered with 410 Gone.
    var compactedBelow: UInt64 = 0
    var watchers: [Int: Watcher] = [:]
    var nextWatcherID = 0
    var denials: [KubeTestServer.Denial] = []
    var hooks: [Int: KubeTestServer.RequestHook] = [:]
    var hookUses: [Int: Int] = [:]
    var nextHookID = 0
    var log: [KubeTestServer.RecordedRequest] = []
    var nextServiceIP: UInt32 = 10
    var issuedTokens: [String: IssuedToken] = [:]
    var auth = AuthState()
    var openAPIPublisher = OpenAPIPublisher()
    var port = 0

    init(options: KubeTestServer.Options) throws {
        self.options = options
        self.registry = try ResourceRegistry.recorded()
        _ = try OpenAPIDefinitions.builtin.get()
        let namespaces = StorageKey(group: "", resource: "namespaces")
        for name in ["default", "kube-system", "kube-public", "kube-node-lease"] {
            clock += 1
            let uid = UUID().uuidString.lowercased()
            store[namespaces, default: [:]][ObjectKey(namespace: "", name: name)] = [
                "apiVersion": "v1", "kind": "Namespace",
                "metadata": [
                    "name": .string(name), "uid": .string(uid), "resourceVersion": .string(String(clock)),
                    "creationTimestamp": .string(Self.timestamp()), "labels": ["kubernetes.io/metadata.name": .string(name)],
                ],
                "spec": ["finalizers": ["kubernetes"]], "status": ["phase": "Active"],
            ]
            uidIndex[uid] = (namespaces, ObjectKey(namespace: "", name: name))
        }
        for (storageKey, key, object) in Self.bootstrapObjects(clock: &clock) {
            store[storageKey, default: [:]][key] = object
            uidIndex[object["metadata"]?["uid"]?.stringValue ?? ""] = (storageKey, key)
        }
    }

    func setPort(_ port: Int) { self.port = port }

    func sortedKeys(_ key: StorageKey) -> [ObjectKey] {
        if let cached = sortedKeysCache[key] { return cached }
        let sorted = (store[key] ?? [:]).keys.sorted()
        sortedKeysCache[key] = sorted
        return sorted
    }

    // MARK: - Clock and history

    func tick() -> UInt64 {
        clock += 1
        return clock
    }

    var liveHistory: ArraySlice<StoredEvent> { history[historyStart...] }

    func record(_ event: StoredEvent) {
        noteForControllers(event)
        history.append(event)
        if history.count - historyStart > options.watchHistoryCapacity {
            compactedBelow = history[historyStart].resourceVersion
            historyStart += 1
            if historyStart > 4096 && historyStart * 2 > history.count {
                history.removeFirst(historyStart)
                historyStart = 0
            }
        }
        for (id, watcher) in watchers where watcher.entry.storageKey == event.key {
            if let rendered = render(event, for: watcher) {
                if case .terminated = watcher.continuation.yield(rendered) { watchers.removeValue(forKey: id) }
            }
        }
    }

    /// Forgets all watch history, so every older resourceVersion is too old (410).
    func compact() {
        compactedBelow = clock
        history.removeAll()
        historyStart = 0
    }

    func render(_ event: StoredEvent, for watcher: Watcher) -> JSONValue? {
        if let namespace = watcher.namespace, namespaceOf(event.object) != namespace { return nil }
        let nowMatches = matches(event.object, watcher)
        let wasMatching = event.previous.map { matches($0, watcher) } ?? false
        let type: String
        switch event.type {
        case "ADDED":
            guard nowMatches else { return nil }
            type = "ADDED"
        case "MODIFIED":
            if nowMatches && wasMatching {
                type = "MODIFIED"
            } else if nowMatches {
                type = "ADDED"
            } else if wasMatching {
                type = "DELETED"
            } else {
                return nil
            }
        default:
            guard nowMatches else { return nil }
            type = event.type
        }
        return ["type": .string(type), "object": present(event.object, as: watcher.entry)]
    }

    func matches(_ object: JSONValue, _ watcher: Watcher) -> Bool {
        watcher.labels.matches(object["metadata"]?["labels"]?.stringMap ?? [:])
            && watcher.fields.matches(fieldValues(of: object, entry: watcher.entry, for: watcher.fields))
    }

    func namespaceOf(_ object: JSONValue) -> String { object["metadata"]?["namespace"]?.stringValue ?? "" }

    /// The object as a client of `entry`'s version sees it.
    func present(_ object: JSONValue, as entry: ResourceRegistry.Entry) -> JSONValue {
        var copy = object
        copy["apiVersion"] = .string(entry.resource.apiVersion)
        copy["kind"] = .string(entry.resource.kind)
        return copy
    }

    func fieldValues(of object: JSONValue, entry: ResourceRegistry.Entry, for selector: FieldSelector) -> [String: String] {
        var values: [String: String] = [:]
        for term in selector.terms {
            var value = object
            var found = true
            for part in term.field.split(separator: ".") {
                guard let next = value[String(part)] else {
                    found = false
                    break
                }
                value = next
            }
            guard found else { continue }
            switch value {
            case .string(let s): values[term.field] = s
            case .bool(let b): values[term.field] = b ? "true" : "false"
            case .int(let i): values[term.field] = String(i)
            case .double(let d): values[term.field] = String(d)
            default: break
            }
        }
        return values
    }

    // MARK: - Watch registration

    func startWatch(
        entry: ResourceRegistry.Entry, namespace: String?, labels: LabelSelector, fields: FieldSelector,
        resourceVersion: String?, bookmarks: Bool, sendInitialEvents: Bool, timeoutSeconds: Int?
    ) -> Result<WatchStream, APIError> {
        let (stream, continuation) = AsyncStream<JSONValue>.makeStream(bufferingPolicy: .unbounded)
        let watcher = Watcher(
            entry: entry, namespace: namespace, labels: labels, fields: fields, bookmarks: bookmarks,
            continuation: continuation)
        var initial: [JSONValue] = []
        let rv = resourceVersion.flatMap { UInt64($0) } ?? 0
        if rv == 0 || sendInitialEvents {
            for (key, object) in (store[entry.storageKey] ?? [:]).sorted(by: { $0.key < $1.key }) {
                if let namespace, key.namespace != namespace { continue }
                guard matches(object, watcher) else { continue }
                initial.append(["type": "ADDED", "object": present(object, as: entry)])
            }
            if sendInitialEvents && bookmarks {
                initial.append(bookmark(entry, annotations: ["k8s.io/initial-events-end": "true"]))
            }
        } else {
            if rv < compactedBelow {
                let status = APIStatus(
                    code: 410, reason: "Expired", message: "too old resource version: \(rv) (\(compactedBelow))")
                initial.append(["type": "ERROR", "object": status.json])
                continuation.finish()
                return .success(WatchStream(initial: initial, live: stream, timeoutSeconds: timeoutSeconds, onEnd: {}))
            }
            for event in liveHistory where event.resourceVersion > rv && event.key == entry.storageKey {
                if let rendered = render(event, for: watcher) { initial.append(rendered) }
            }
        }
        let id = nextWatcherID
        nextWatcherID += 1
        watchers[id] = watcher
        return .success(
            WatchStream(
                initial: initial, live: stream, timeoutSeconds: timeoutSeconds,
                onEnd: { [weak self] in await self?.stopWatch(id) },
                onTimeout: { [weak self] in await self?.stopWatch(id, bookmark: true) }))
    }

    /// Ends a watch; with `bookmark`, a BOOKMARK of the current resourceVersion goes last (in
    /// order after every event already queued for it) when the watch allowed bookmarks.
    func stopWatch(_ id: Int, bookmark: Bool = false) {
        guard let watcher = watchers.removeValue(forKey: id) else { return }
        if bookmark && watcher.bookmarks { watcher.continuation.yield(self.bookmark(watcher.entry)) }
        watcher.continuation.finish()
    }

    func bookmark(_ entry: ResourceRegistry.Entry, annotations: [String: String] = [:]) -> JSONValue {
        var metadata: JSONValue = ["resourceVersion": .string(String(clock))]
        if !annotations.isEmpty { metadata["annotations"] = JSONValue(stringMap: annotations) }
        return [
            "type": "BOOKMARK",
            "object": ["apiVersion": .string(entry.resource.apiVersion), "kind": .string(entry.resource.kind), "metadata": metadata],
        ]
    }

    /// Sends a BOOKMARK with the current resourceVersion to every watch that asked for bookmarks.
    func emitBookmarks() {
        for (_, watcher) in watchers where watcher.bookmarks {
            watcher.continuation.yield(bookmark(watcher.entry))
        }
    }

    /// Ends every watch (server shutdown, or a test forcing clients to re-watch).
    func endAllWatches() {
        for (_, watcher) in watchers { watcher.continuation.finish() }
        watchers.removeAll()
    }

    var activeWatchCount: Int { watchers.count }

    // MARK: - Test controls

    func addDenial(_ denial: KubeTestServer.Denial) { denials.append(denial) }
    func clearDenials() { denials.removeAll() }

    func addHook(_ hook: KubeTestServer.RequestHook) -> Int {
        let id = nextHookID
        nextHookID += 1
        hooks[id] = hook
        hookUses[id] = 0
        return id
    }

    func removeHook(_ id: Int) { hooks.removeValue(forKey: id) }

    /// Hooks that match this request, consuming a use of each.
    func claimHooks(for request: APIRequest) -> [KubeTestServer.RequestHook] {
        var claimed: [KubeTestServer.RequestHook] = []
        for id in hooks.keys.sorted() {
            guard let hook = hooks[id], hook.matches(request) else { continue }
            hookUses[id, default: 0] += 1
            if let times = hook.times, hookUses[id]! >= times { hooks.removeValue(forKey: id) }
            claimed.append(hook)
        }
        return claimed
    }

    func record(_ request: APIRequest, status: Int) {
        log.append(
            KubeTestServer.RecordedRequest(
                method: request.method, path: request.path, query: request.query,
                contentType: request.headers["content-type"] ?? "", accept: request.accept, status: status,
                userAgent: request.headers["user-agent"] ?? ""))
        if log.count > options.requestLogCapacity { log.removeFirst(log.count - options.requestLogCapacity) }
    }

    func requestLog() -> [KubeTestServer.RecordedRequest] { log }
    func clearRequestLog() { log.removeAll() }
}
