import Foundation

/// A task executor with threads of its own, on which the test server serves its connections.
///
/// Tests run many things at once on Swift's cooperative pool, which has one thread per core (two
/// here). A test that computes or waits synchronously there for seconds would otherwise delay
/// every answer of the server, and real clients give up: kubectl waits 32 s for discovery. Code
/// that prefers this executor (and the default actors it calls, SE-0417) runs here instead.
final class ServerThreads: TaskExecutor, @unchecked Sendable {
    /// One set of threads for every server in the process; they live as long as it does.
    static let shared = ServerThreads(count: 2)

    private let condition = NSCondition()
    private var queue: [UnownedJob] = []
    private var head = 0

    private init(count: Int) {
        for index in 0..<count {
            let thread = Thread { [unowned self] in self.work() }
            thread.name = "ferry-testkube-\(index)"
            thread.start()
        }
    }

    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        condition.lock()
        queue.append(job)
        condition.signal()
        condition.unlock()
    }

    private func next() -> UnownedJob {
        condition.lock()
        defer { condition.unlock() }
        while head == queue.count { condition.wait() }
        let job = queue[head]
        head += 1
        if head == queue.count {
            queue.removeAll(keepingCapacity: true)
            head = 0
        }
        return job
    }

    private func work() {
        while true {
            next().runSynchronously(on: asUnownedTaskExecutor())
        }
    }
}
