import FerryAPI
import FerryKube
import FerryRepo
import Foundation

/// Keeps each Target's status true: the coordinator opens its repository (manifests only) when
/// the Target is new or changed and then every `interval`, and records whether it can be used
/// (`Ready`, or `Failed` with the reason: no repository there, a missing Secret, the store
/// unreachable), its location and repository id. Creating the repository when the Target asks
/// for it (`spec.initialize`) happens here too, so a new Target is usable before its first
/// backup.
struct TargetMonitor: Sendable {
    let status: StatusWriter
    let connector: TargetConnector
    let log: @Sendable (String) -> Void
    /// How often a Target that has not changed is checked again.
    var interval: Duration = .seconds(300)

    /// Checks the Target if it is due; returns how long until it is due again.
    func check(_ target: Target, now: Date = Date()) async throws -> Duration {
        let generation = target.object.generation
        if let last = target.status.lastCheckTime, target.status.observedGeneration == generation {
            let age = now.timeIntervalSince(last)
            if age < Double(interval.components.seconds) { return .seconds(Double(interval.components.seconds) - age) }
        }
        var next = TargetStatus()
        next.lastCheckTime = now
        next.observedGeneration = generation
        do {
            let location = try target.spec.location(of: target.label)
            next.location = location.text
            let repository = try await connector.open(target, loadIndex: false)
            next.phase = .ready
            next.repositoryID = repository.config.id
        } catch {
            next.phase = .failed
            next.message = "\(error)"
            if target.status.message != next.message { log("\(target.label): \(error)") }
        }
        let checked = next
        try await status.update(target) { status in
            status.phase = checked.phase
            status.location = checked.location
            status.repositoryID = checked.repositoryID
            status.message = checked.message
            status.lastCheckTime = checked.lastCheckTime
            status.observedGeneration = checked.observedGeneration
        }
        // A change of phase (or of the reason it cannot be used) is an Event too.
        if target.status.phase != checked.phase || target.status.message != checked.message, let phase = checked.phase {
            let message = phase == .ready ? "repository \(checked.repositoryID ?? "") at \(checked.location ?? "")" : checked.message ?? ""
            await status.events?.record(target.object, phase == .ready ? .normal : .warning, reason: phase.rawValue, message: message)
        }
        return interval
    }
}
