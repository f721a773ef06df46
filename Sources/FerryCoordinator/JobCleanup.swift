import FerryAPI
import FerryKube
import Foundation

/// What happens when a Backup or Restore is deleted before it ended: its work was cancelled
/// (nothing is committed), and here its units are deleted (their agents stop), everything it
/// exposed goes (VolumeSnapshots, claims and pause pods, in whichever namespaces; a Restore's
/// seeded snapshots too), and its
/// finalizer is removed so the object can go. What the agents uploaded is left to prune: their
/// sessions end or expire, and nothing references the chunks.
struct JobCleanup: Sendable {
    let context: JobContext

    func cleanUp(_ object: KubeObject) async {
        let log = context.log
        let kind: FerryKind = object.kind == FerryKind.restore.rawValue ? .restore : .backup
        log("\(object.label): deleted before it ended; stopping its work and removing what it exposed")
        await stopWork(object)
        do {
            switch kind {
            case .restore: try await context.ferry.setFinalizer(FerryLabels.jobFinalizer, present: false, on: try Restore(object))
            default: try await context.ferry.setFinalizer(FerryLabels.jobFinalizer, present: false, on: try Backup(object))
            }
        } catch {
            log("\(object.label): cannot remove its finalizer \(FerryLabels.jobFinalizer): \(error)")
        }
    }

    /// Deletes the job's units (their agents stop) and everything it exposed; returns what could
    /// not be removed.
    @discardableResult
    func stopWork(_ object: KubeObject) async -> [String] {
        let kind: FerryKind = object.kind == FerryKind.restore.rawValue ? .restore : .backup
        await deleteUnits(of: object, kind: kind)
        var problems: [String] = []
        if let exposer = context.exposer {
            for clusterWide in [false, true] {
                let owner = ExposureOwner(object, clusterWide: clusterWide)
                problems += await exposer.cleanup(namespace: clusterWide ? nil : object.namespace, owner: owner)
                if kind == .restore { problems += await exposer.dropSeeds(namespace: clusterWide ? nil : object.namespace, owner: owner) }
            }
        }
        for problem in problems { context.log("\(object.label): \(problem)") }
        return problems
    }

    /// Deletes the job's VolumeTransfers, so the agents running them stop.
    private func deleteUnits(of object: KubeObject, kind: FerryKind) async {
        let label = VolumeUnits.ownerLabel(kind)
        do {
            let resource = try await context.ferry.resource(.volumeTransfer)
            for unit in try await context.client.listAll(resource, namespace: object.namespace, labelSelector: "\(label)=\(object.name)") {
                do {
                    _ = try await context.client.delete(resource, namespace: unit.namespace, name: unit.name)
                } catch .notFound {
                }
            }
        } catch {
            context.log("\(object.label): cannot delete its VolumeTransfers: \(error)")
        }
    }
}
