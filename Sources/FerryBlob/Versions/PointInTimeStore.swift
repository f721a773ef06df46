import Foundation

/// A read-only view of a versioned store as it was at a moment: each name shows the newest
/// version written at or before `time`, unless a delete marker made at or before then hid it.
/// Opening lists every version once; reads then fetch those versions by id. Any write is refused.
///
/// `ferry snapshots/restore/check --point-in-time` open repositories through it, so a locked
/// repository whose objects were deleted (delete markers) can still be read. S3 reports times to
/// the second: `time` should be at least a second after the writes it must see and before the
/// deletes it must not.
public struct PointInTimeStore: ObjectStore {
    public let base: any VersionedObjectStore
    public let time: Date
    public let location: String
    private let visible: [String: ObjectVersion]

    /// Lists the versions of `base` and keeps, for every name, what was current at `time`.
    public static func open(_ base: any VersionedObjectStore, at time: Date) async throws -> PointInTimeStore {
        var newest: [String: ObjectVersion] = [:]
        for version in try await base.listVersions(prefix: "") where version.lastModified <= time {
            // Several entries in one second: the later one in the listing's order wins only if
            // the listing says it is newer; S3 lists a name's versions newest first.
            if let seen = newest[version.name], seen.lastModified >= version.lastModified { continue }
            newest[version.name] = version
        }
        return PointInTimeStore(base: base, time: time, visible: newest.filter { !$0.value.isDeleteMarker })
    }

    private init(base: any VersionedObjectStore, time: Date, visible: [String: ObjectVersion]) {
        self.base = base
        self.time = time
        self.visible = visible
        location = "\(base.location) at \(time.formatted(Date.ISO8601FormatStyle(includingFractionalSeconds: true)))"
    }

    public func put(_ name: String, _ bytes: [UInt8], mode: PutMode) async throws -> PutOutcome {
        throw readOnly("write \(name)")
    }

    public func get(_ name: String) async throws -> [UInt8] {
        try await base.get(name, version: try version(of: name).version, range: nil)
    }

    public func get(_ name: String, range: Range<Int64>) async throws -> [UInt8] {
        let version = try version(of: name)
        guard !range.isEmpty else { return [] }
        guard range.upperBound <= version.size else {
            throw ObjectStoreError.corrupt(
                name: name, store: location, detail: "object is \(version.size) bytes, shorter than the requested range \(range)")
        }
        return try await base.get(name, version: version.version, range: range)
    }

    public func head(_ name: String) async throws -> ObjectInfo? {
        visible[name].map { ObjectInfo(name: name, size: $0.size) }
    }

    public func list(prefix: String) async throws -> [ObjectInfo] {
        visible.values.filter { $0.name.hasPrefix(prefix) }.map { ObjectInfo(name: $0.name, size: $0.size) }
    }

    public func delete(_ names: [String]) async throws {
        if !names.isEmpty { throw readOnly("delete \(names[0])") }
    }

    public func removeAbandonedWrites(startedBefore cutoff: Date) async throws -> AbandonedWrites {
        throw readOnly("remove abandoned writes")
    }

    private func version(of name: String) throws -> ObjectVersion {
        guard let version = visible[name] else { throw ObjectStoreError.notFound(name: name, store: location) }
        return version
    }

    private func readOnly(_ what: String) -> ObjectStoreError {
        .accessDenied(store: location, detail: "cannot \(what): a point-in-time view is read-only")
    }
}
