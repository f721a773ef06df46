/// How many of a job's volumes are in each phase, and their bytes: the part of a Backup's or
/// Restore's status that stays whole however many volumes it has (`status.volumes` lists at
/// most `JobStatusBounds.volumes` of them).
public struct VolumeCounts: Codable, Sendable, Equatable {
    /// Every volume of the job, in whatever phase.
    public var volumes: Int
    public var pending: Int?
    public var running: Int?
    public var succeeded: Int?
    public var failed: Int?
    public var notMoved: Int?
    /// Summed over the volumes that report them.
    public var bytesDone: Int64?
    public var bytesTotal: Int64?

    public init(volumes: Int = 0) {
        self.volumes = volumes
    }

    /// The counts of `all`.
    public init(_ all: [VolumeProgress]) {
        self.init(volumes: all.count)
        for volume in all {
            self[volume.phase] = (self[volume.phase] ?? 0) + 1
            if let done = volume.bytesDone { bytesDone = (bytesDone ?? 0) + done }
            if let total = volume.bytesTotal { bytesTotal = (bytesTotal ?? 0) + total }
        }
    }

    /// How many volumes are in `phase` (nil: none).
    public subscript(phase: VolumePhase) -> Int? {
        get {
            switch phase {
            case .pending: return pending
            case .running: return running
            case .succeeded: return succeeded
            case .failed: return failed
            case .notMoved: return notMoved
            }
        }
        set {
            switch phase {
            case .pending: pending = newValue
            case .running: running = newValue
            case .succeeded: succeeded = newValue
            case .failed: failed = newValue
            case .notMoved: notMoved = newValue
            }
        }
    }
}
