import FerryBlob
import Foundation

/// Prune's part in a repository under S3 Object Lock. A delete there only adds a delete marker:
/// the version stays, locked, and readable with `--point-in-time` until its date. So prune
/// never deletes a version before its retain-until date: it keeps the objects still in use
/// locked ahead (extending a retention once less than half of the period is left), and deletes
/// for good only versions that are no longer current and whose retention has passed.
extension Pruner {
    /// Extends the lock of every current object the policy covers whose retention ends within
    /// half the period, to a full period from now.
    func extendRetention(_ policy: ObjectLockPolicy, versions: any VersionedObjectStore, report: inout PruneReport) async throws {
        let now = Date()
        var names: [String] = []
        for prefix in ObjectLockPolicy.lockedPrefixes {
            names += try await Repository.wrap { try await store.list(prefix: prefix) }.map(\.name).filter { policy.rule.applies(to: $0) }
        }
        let extended = try await Self.forEach(names) { name -> Bool in
            let current: ObjectRetention?
            do {
                current = try await versions.retention(of: name, version: nil)
            } catch ObjectStoreError.notFound {
                return false // deleted since the listing
            }
            if let current, current.until.timeIntervalSince(now) > policy.period / 2 { return false }
            let until = max(current?.until ?? now, now.addingTimeInterval(policy.period))
            try await versions.extendRetention(of: name, to: ObjectRetention(mode: current?.mode ?? policy.lockMode, until: until))
            return true
        }
        report.retentionExtended = extended.filter { $0 }.count
        if report.retentionExtended > 0 { log("extended the Object Lock retention of \(report.retentionExtended) object(s) still in use") }
    }

    /// Deletes, for good, the versions that are no longer current once their retention has
    /// passed, and delete markers that no longer hide anything.
    func reclaimExpiredVersions(_ versions: any VersionedObjectStore, report: inout PruneReport) async throws {
        let now = Date()
        let all = try await Repository.wrap { try await versions.listVersions(prefix: "") }
        let byName = Dictionary(grouping: all, by: \.name)
        var expired: [ObjectVersion] = []
        var retained = 0
        var markers: [ObjectVersion] = []
        for (_, entries) in byName {
            let old = entries.filter { !$0.isLatest && !$0.isDeleteMarker }
            let locks = try await Self.forEach(old) { version -> ObjectRetention? in
                do {
                    return try await versions.retention(of: version.name, version: version.version)
                } catch ObjectStoreError.notFound {
                    return ObjectRetention(mode: .compliance, until: .distantFuture) // gone since the listing: leave it
                }
            }
            var remaining = 0
            for (version, lock) in zip(old, locks) {
                if let lock, lock.until >= now {
                    remaining += 1
                } else {
                    expired.append(version)
                }
            }
            retained += remaining
            let current = entries.contains { $0.isLatest && !$0.isDeleteMarker }
            if !current && remaining == 0 { markers += entries.filter(\.isDeleteMarker) }
        }
        _ = try await Self.forEach(expired + markers) { version in
            try await Repository.wrap { try await versions.deleteVersion(of: version.name, version: version.version) }
        }
        report.versionsReclaimed = expired.count
        report.versionBytesReclaimed = expired.reduce(Int64(0)) { $0 + $1.size }
        report.versionsRetained = retained
        if !expired.isEmpty { log("deleted \(expired.count) version(s) whose Object Lock retention had passed") }
    }

    /// Runs `body` on every element, 16 at a time, and returns the results in order.
    static func forEach<Element: Sendable, Result: Sendable>(
        _ elements: [Element], width: Int = 16, _ body: @escaping @Sendable (Element) async throws -> Result
    ) async throws -> [Result] {
        try await withThrowingTaskGroup(of: (Int, Result).self) { group in
            var results = [Result?](repeating: nil, count: elements.count)
            var next = 0
            func startNext() {
                guard next < elements.count else { return }
                let index = next
                next += 1
                group.addTask { (index, try await body(elements[index])) }
            }
            for _ in 0..<width { startNext() }
            while let (index, result) = try await group.next() {
                results[index] = result
                startNext()
            }
            return results.map { $0! }
        }
    }
}
