import Foundation

/// The status fields every job (Backup, Restore) has: where it is, which coordinator attempt
/// runs it, when it started and ended, its volumes, and what went wrong.
public protocol JobStatus: Codable, Sendable, Equatable {
    var phase: JobPhase? { get set }
    var attempt: String? { get set }
    var startTime: Date? { get set }
    var completionTime: Date? { get set }
    var volumes: [VolumeProgress]? { get set }
    /// Every volume counted by phase, with their bytes.
    var progress: VolumeCounts? { get set }
    /// How many volumes `volumes` leaves out (it lists at most `JobStatusBounds.volumes`).
    var volumesOmitted: Int? { get set }
    var hooks: [HookResult]? { get set }
    var warnings: [String]? { get set }
    var errors: [String]? { get set }
    init()
    /// Cuts the kind's own lists to `bounds` (part of `bounded`).
    mutating func boundDetails(_ bounds: JobStatusBounds)
}

extension JobStatus {
    public mutating func boundDetails(_ bounds: JobStatusBounds) {}
}

/// A Backup or a Restore: a job the coordinator carries out once.
public protocol JobObject: FerryObject where Status: JobStatus {}

extension JobObject {
    /// Where the job is; one nobody has taken up is pending.
    public var phase: JobPhase { status.phase ?? .pending }
}

extension BackupStatus: JobStatus {}
extension RestoreStatus: JobStatus {}
extension Backup: JobObject {}
extension Restore: JobObject {}
