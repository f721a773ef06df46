import ArgumentParser
import FerryBlob
import Foundation

/// `--point-in-time TIME` for commands that only read: open the repository as it was at TIME,
/// from its S3 object versions (a bucket with versioning, as Object Lock requires).
struct PointInTimeOptions: ParsableArguments {
    @Option(
        name: .long,
        help: ArgumentHelp(
            "Read the repository as it was at this time (ISO 8601, e.g. 2026-12-06T21:00:00Z), from its S3 object versions.",
            valueName: "time"))
    var pointInTime: String?

    /// The moment asked for, or nil.
    func time() throws -> Date? {
        guard let pointInTime else { return nil }
        guard let date = Self.parse(pointInTime) else {
            throw ValidationError("--point-in-time takes an ISO 8601 time with a zone, such as 2026-12-06T21:00:00Z, not \(pointInTime)")
        }
        guard date <= Date() else { throw ValidationError("--point-in-time \(pointInTime) is in the future") }
        return date
    }

    static func parse(_ text: String) -> Date? {
        if let date = try? Date.ISO8601FormatStyle(includingFractionalSeconds: true).parse(text) { return date }
        return try? Date.ISO8601FormatStyle().parse(text)
    }
}

extension RepositoryOptions {
    /// The store, or with `time` a read-only view of it as it was then.
    func store(at time: Date?) async throws -> any ObjectStore {
        let store = try store()
        guard let time else { return store }
        guard let versions = store.capabilities.versions else {
            throw CLIError(
                "--point-in-time needs a repository in an S3 bucket with versioning (Object Lock); \(store.location) keeps no versions")
        }
        return try await PointInTimeStore.open(versions, at: time)
    }
}
