import FerryKube
import Synchronization

extension FerryClient {
    /// Lists and watches a kind and hands `body` every object (from the list, and each later
    /// ADDED or MODIFIED event) that `isWork` accepts; the same object may come more than once.
    /// Objects being deleted (a deletion timestamp, or a DELETED event) go to `deleted` instead,
    /// and so do objects that a relist (after the watch broke off) no longer holds: their
    /// DELETED event was missed. Objects whose spec does not read go to `invalid`. Returns only
    /// by throwing (the watch ended or failed).
    public func forEachWorkItem<R: FerryObject>(
        _ type: R.Type, namespace: String?, labelSelector: String? = nil,
        where isWork: @Sendable (R) -> Bool, invalid: @Sendable (KubeObject, ClusterError) -> Void = { _, _ in },
        deleted: @Sendable (KubeObject) -> Void = { _ in },
        _ body: @Sendable (R) -> Void
    ) async throws {
        let resource = try await resource(R.kind)
        func handle(_ object: KubeObject) {
            if object.deletionTimestamp != nil {
                deleted(object)
                return
            }
            do throws(ClusterError) {
                let value = try R(object)
                if isWork(value) { body(value) }
            } catch {
                invalid(object, error)
            }
        }
        // What the last list and the events since say exists, by namespace/name.
        var known: [String: KubeObject] = [:]
        func key(_ object: KubeObject) -> String { "\(object.namespace ?? "")/\(object.name)" }
        for try await event in kube.listAndWatch(resource, namespace: namespace, labelSelector: labelSelector) {
            switch event {
            case .synced(let objects, _):
                let listed = Dictionary(objects.map { (key($0), $0) }, uniquingKeysWith: { _, last in last })
                for (name, object) in known where listed[name] == nil { deleted(object) }
                known = listed
                for object in objects { handle(object) }
            case .event(.added(let object)), .event(.modified(let object)):
                known[key(object)] = object
                handle(object)
            case .event(.deleted(let object)):
                known[key(object)] = nil
                deleted(object)
            case .event:
                break
            }
        }
        throw ClusterError.watchEnded(resource: resource.name)
    }
}

/// Runs `body` for each element of `stream`, at most `limit` at a time.
public func forEachConcurrently<Element: Sendable>(
    _ stream: AsyncStream<Element>, limit: Int, _ body: @escaping @Sendable (Element) async -> Void
) async {
    await withTaskGroup(of: Void.self) { group in
        var running = 0
        for await element in stream {
            if running >= max(1, limit) {
                await group.next()
                running -= 1
            }
            group.addTask { await body(element) }
            running += 1
        }
    }
}

/// Names already handed out, shared by the tasks that feed a work queue.
public final class SeenSet: Sendable {
    private let names = Mutex<Set<String>>([])

    public init() {}

    /// True the first time `name` is offered.
    public func insert(_ name: String) -> Bool { names.withLock { $0.insert(name).inserted } }
}

/// The tasks running work items, by the uid of the object they work on, so that deleting the
/// object (or a watchdog) cancels its work.
public final class RunningWork: Sendable {
    private struct Entry: Sendable {
        var task: Task<Void, Never>
        /// Ends the wait at once when the work is cancelled (work that is abandoned).
        var outcome: Outcome?
    }

    private let entries = Mutex<[String: Entry]>([:])

    public init() {}

    /// Runs `body` as the work of `uid` until it ends or `cancel(uid)` is called; returns false
    /// when it was cancelled. With `abandonOnCancel` the wait ends as soon as the work is
    /// cancelled, even while the work itself is still blocked (in a read from a device that does
    /// not answer) and finishes later; otherwise the wait lasts until the work has wound down.
    public func run(_ uid: String, abandonOnCancel: Bool = false, _ body: @escaping @Sendable () async -> Void) async -> Bool {
        let task = Task { await body() }
        let outcome = abandonOnCancel ? Outcome() : nil
        entries.withLock { $0[uid] = Entry(task: task, outcome: outcome) }
        defer { entries.withLock { _ = $0.removeValue(forKey: uid) } }
        guard let outcome else {
            await withTaskCancellationHandler {
                await task.value
            } onCancel: {
                task.cancel()
            }
            return !task.isCancelled
        }
        Task {
            await task.value
            outcome.settle(!task.isCancelled)
        }
        return await withTaskCancellationHandler {
            await outcome.value()
        } onCancel: {
            task.cancel()
            outcome.settle(false)
        }
    }

    /// Cancels the work of `uid`; false when none runs.
    @discardableResult
    public func cancel(_ uid: String) -> Bool {
        guard let entry = entries.withLock({ $0[uid] }) else { return false }
        entry.task.cancel()
        entry.outcome?.settle(false)
        return true
    }
}

/// A Bool settled once, by whichever comes first; waiters get the first value.
final class Outcome: Sendable {
    private struct State {
        var value: Bool?
        var waiters: [CheckedContinuation<Bool, Never>] = []
    }

    private let state = Mutex(State())

    func settle(_ value: Bool) {
        let waiters = state.withLock { state -> [CheckedContinuation<Bool, Never>] in
            guard state.value == nil else { return [] }
            state.value = value
            defer { state.waiters = [] }
            return state.waiters
        }
        for waiter in waiters { waiter.resume(returning: value) }
    }

    func value() async -> Bool {
        await withCheckedContinuation { (continuation: CheckedContinuation<Bool, Never>) in
            let settled = state.withLock { state -> Bool? in
                if let value = state.value { return value }
                state.waiters.append(continuation)
                return nil
            }
            if let settled { continuation.resume(returning: settled) }
        }
    }
}
