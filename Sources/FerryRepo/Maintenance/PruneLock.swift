import FerryBlob
import Foundation
import Synchronization

/// The exclusive lock that lets one prune run at a time: `locks/prune-<sequence>`, taken with a
/// conditional create of the next sequence number (so two contenders cannot both win, even
/// without conditional deletes), refreshed as a lease while the prune runs, removed at its end.
/// A lock whose lease has expired, or whose holder is a process on this host that no longer
/// exists, is stale and may be taken over.
public final class PruneLock: Sendable {
    /// The lock object's content.
    public struct Record: Codable, Sendable {
        public var holder: String
        public var hostname: String
        public var pid: Int32
        public var created: Date
        public var expires: Date
    }

    public let name: String
    private let store: any ObjectStore
    private let record: Record
    private let lease: Duration
    private let refresher = Mutex<Task<Void, Never>?>(nil)

    private init(name: String, store: any ObjectStore, record: Record, lease: Duration) {
        self.name = name
        self.store = store
        self.record = record
        self.lease = lease
    }

    static let prefix = ObjectName.locksPrefix + "prune-"

    /// Takes the lock or throws `RepositoryError.locked` naming the holder.
    public static func acquire(store: any ObjectStore, lease: Duration = .seconds(300)) async throws -> PruneLock {
        let existing = try await Repository.wrap { try await store.list(prefix: prefix) }
        let sequences = existing.compactMap { Int($0.name.dropFirst(prefix.count)) }.sorted()
        let current = sequences.last ?? 0
        if let current = sequences.last {
            let name = prefix + String(current)
            // Only a definite answer frees the lock: the object is gone, or its holder is dead.
            let bytes: [UInt8]?
            do {
                bytes = try await store.get(name)
            } catch ObjectStoreError.notFound {
                bytes = nil // released since the listing
            } catch let error as ObjectStoreError {
                throw RepositoryError.store(error)
            }
            if let bytes {
                guard let holder = try? Repository.decoder.decode(Record.self, from: Data(bytes)) else {
                    throw RepositoryError.locked(
                        holder: "an unreadable lock object \(name) (damaged); delete it once you are sure no prune runs")
                }
                if isAlive(holder) {
                    throw RepositoryError.locked(
                        holder: "\(holder.holder) (pid \(holder.pid) on \(holder.hostname), since \(holder.created))")
                }
            }
        }
        let now = Date()
        let record = Record(
            holder: "prune " + SecureRandom.hex(8), hostname: ProcessInfo.processInfo.hostName,
            pid: ProcessInfo.processInfo.processIdentifier, created: now,
            expires: now.addingTimeInterval(Double(lease.components.seconds)))
        let name = prefix + String(current + 1)
        do {
            try await store.put(name, try [UInt8](Repository.encoder.encode(record)), mode: .createOnly)
        } catch ObjectStoreError.alreadyExists {
            throw RepositoryError.locked(holder: "another prune that started at the same moment")
        } catch let error as ObjectStoreError {
            throw RepositoryError.store(error)
        }
        let lock = PruneLock(name: name, store: store, record: record, lease: lease)
        // Earlier (stale) lock objects are no longer needed.
        try? await store.delete(sequences.map { prefix + String($0) })
        let refresh = Task { [weak lock] in
            while !Task.isCancelled {
                guard let interval = lock?.lease else { return }
                try? await Task.sleep(for: interval / 3)
                guard !Task.isCancelled, let lock else { return }
                try? await lock.refresh()
            }
        }
        lock.refresher.withLock { $0 = refresh }
        return lock
    }

    /// Runs `body` holding the lock (taken first, released after, whatever `body` does).
    public static func holding<T>(store: any ObjectStore, _ body: () async throws -> T) async throws -> T {
        let lock = try await acquire(store: store)
        do {
            let result = try await body()
            await lock.release()
            return result
        } catch {
            await lock.release()
            throw error
        }
    }

    private func refresh() async throws {
        var renewed = record
        renewed.expires = Date().addingTimeInterval(Double(lease.components.seconds))
        try await store.put(name, try [UInt8](Repository.encoder.encode(renewed)), mode: .replace)
    }

    /// Stops refreshing and removes the lock.
    public func release() async {
        refresher.withLock {
            $0?.cancel()
            $0 = nil
        }
        try? await store.delete([name])
    }

    /// Whether a holder still counts: its lease has not run out, and if it is on this host, its
    /// process still exists.
    static func isAlive(_ holder: Record) -> Bool {
        if holder.hostname == ProcessInfo.processInfo.hostName && holder.pid > 0 {
            if kill(holder.pid, 0) != 0 && errno == ESRCH { return false }
        }
        return holder.expires.timeIntervalSinceNow > -SessionMarker.commitMargin
    }
}
