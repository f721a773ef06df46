/// Where a Backup or a Restore is.
public enum JobPhase: String, Codable, Sendable, CaseIterable {
    /// Created, not yet taken up by the coordinator.
    case pending = "Pending"
    /// Being carried out by the coordinator attempt in `status.attempt`.
    case inProgress = "InProgress"
    case completed = "Completed"
    /// Ended with a snapshot (or objects restored) but something was left out; see `errors`.
    case partiallyFailed = "PartiallyFailed"
    case failed = "Failed"

    /// The job has ended and will not change again.
    public var isFinal: Bool { [.completed, .partiallyFailed, .failed].contains(self) }
}

/// Where a VolumeTransfer (one unit of work for an agent) is.
public enum UnitPhase: String, Codable, Sendable, CaseIterable {
    /// Waiting for the agent on its node to claim it.
    case pending = "Pending"
    /// Claimed by the agent attempt in `status.attempt`.
    case running = "Running"
    case succeeded = "Succeeded"
    case failed = "Failed"

    public var isFinal: Bool { self == .succeeded || self == .failed }
}

/// Where one volume of a Backup or Restore is, as its status lists it.
public enum VolumePhase: String, Codable, Sendable, CaseIterable {
    case pending = "Pending"
    case running = "Running"
    case succeeded = "Succeeded"
    case failed = "Failed"
    /// Not read at all (a kind of volume Ferry cannot move yet), with the reason.
    case notMoved = "NotMoved"

    public init(_ unit: UnitPhase) {
        switch unit {
        case .pending: self = .pending
        case .running: self = .running
        case .succeeded: self = .succeeded
        case .failed: self = .failed
        }
    }
}

/// Whether a Target's repository can be used.
public enum TargetPhase: String, Codable, Sendable, CaseIterable {
    /// The repository was opened.
    case ready = "Ready"
    /// No repository, the Secrets are missing, or the store cannot be reached; see `message`.
    case failed = "Failed"
}
