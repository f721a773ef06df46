import FerryApps
import FerryKube
import FerryRepo
import Foundation

/// The volumes of one Backup as work units: which can be read by an agent (and where), the
/// `VolumeTransfer` objects for them, and following them to the end. The coordinator judges
/// heartbeats on its own clock (when it last saw a unit's status change), requeues a unit
/// whose agent went silent for a lease, and fails one no agent claims.
struct VolumeUnits: Sendable {
    struct Timing: Sendable {
        /// A running unit whose status has not changed for this long is requeued.
        var unitLease: Duration = .seconds(60)
        /// A unit nobody claims for this long fails (no agent on its node).
        var claimTimeout: Duration = .seconds(600)
        var poll: Duration = .milliseconds(500)
    }

    /// A volume that is not moved (or whose snapshot could not be exposed: `Failed`), and why.
    struct NotMoved: Sendable {
        var claim: String
        var reason: String
        var phase = "NotMoved"
    }

    /// A CSI volume to snapshot and expose before an agent can read it.
    struct Snapshotted: Sendable {
        var volume: VolumeFacts
        var snapshotClass: String
        /// The unit, with node and path filled in once the snapshot is exposed.
        var unit: VolumeTransferSpec
    }

    let client: KubeClient
    let status: StatusWriter
    let timing: Timing
    let log: @Sendable (String) -> Void

    /// The units for the volumes an agent can read directly (block-mode volumes and VM disk
    /// images at a host path on a node), the CSI volumes to snapshot first (any mode), and the
    /// rest with the reason.
    static func plan(_ volumes: [VolumeFacts], backup: String, target: String, snapshotName: String) -> ([VolumeTransferSpec], [Snapshotted], [NotMoved]) {
        var units: [VolumeTransferSpec] = []
        var snapshotted: [Snapshotted] = []
        var notMoved: [NotMoved] = []
        for volume in volumes {
            let claim = "\(volume.claim.namespace ?? "")/\(volume.claim.name)"
            switch volume.readMethod {
            case .hostPath(let node, let path):
                let kind = volume.hostPaths.first { $0.node == node && $0.path == path }?.kind
                if volume.mode == .block || kind == .diskImage {
                    units.append(VolumeTransferSpec(backup: backup, target: target, node: node, volume: claim, snapshotName: snapshotName, path: path))
                } else {
                    notMoved.append(NotMoved(claim: claim, reason: "a filesystem volume (\(path) on \(node)): agents read block devices and disk images; it needs a CSI snapshot, which this version does not take"))
                }
            case .csiSnapshot(let snapshotClass, _):
                // A filesystem volume is read as the block device under its file system: its
                // snapshot is exposed in Block mode (SnapshotExposer).
                snapshotted.append(Snapshotted(volume: volume, snapshotClass: snapshotClass, unit: VolumeTransferSpec(
                    backup: backup, target: target, node: "", volume: claim, snapshotName: snapshotName, path: "")))
            case .unavailable(let reason):
                notMoved.append(NotMoved(claim: claim, reason: reason))
            }
        }
        return (units, snapshotted, notMoved)
    }

    /// The label tying units to their Backup or Restore.
    static func ownerLabel(_ kind: FerryKind) -> String {
        kind == .restore ? VolumeTransferSpec.restoreLabel : VolumeTransferSpec.backupLabel
    }

    /// Creates the units (owned by the Backup or Restore, so they go with it), named
    /// `<owner>-<suffix><n>`. A unit that exists already (a coordinator restarted midway) is kept
    /// with whatever it has done.
    func create(_ units: [VolumeTransferSpec], for backup: KubeObject, kind ownerKind: FerryKind = .backup, suffix: String = "") async throws -> [String] {
        let resource = try await FerryKind.volumeTransfer.resource(client)
        var names: [String] = []
        for (index, unit) in units.enumerated() {
            let name = "\(backup.name)-\(suffix)\(index)"
            var object = KubeObject(apiVersion: FerryKind.apiVersion, kind: FerryKind.volumeTransfer.rawValue, namespace: backup.namespace, name: name)
            object.json["spec"] = unit.json
            object.json.setValue([
                VolumeTransferSpec.nodeLabel: .string(VolumeTransferSpec.nodeLabelValue(unit.node)),
                Self.ownerLabel(ownerKind): .string(backup.name),
            ], at: ["metadata", "labels"])
            if let uid = backup.uid {
                object.json.setValue([OwnerReference(apiVersion: FerryKind.apiVersion, kind: ownerKind.rawValue, name: backup.name, uid: uid, controller: true).json],
                                     at: ["metadata", "ownerReferences"])
            }
            do {
                _ = try await client.create(resource, object)
            } catch .alreadyExists {
                log("\(object.label) exists already; keeping its progress")
            } catch {
                throw ClusterError.kube(error)
            }
            names.append(name)
        }
        return names
    }

    /// Follows the units until each has succeeded or failed; keeps the owner's status current.
    func follow(_ names: [String], of backup: KubeObject, kind ownerKind: FerryKind = .backup, notMoved: [NotMoved]) async throws -> [KubeObject] {
        let resource = try await FerryKind.volumeTransfer.resource(client)
        var lastChange: [String: (state: String, at: ContinuousClock.Instant)] = [:]
        var reported = ""
        while true {
            var units: [KubeObject] = []
            do {
                units = try await client.listAll(resource, namespace: backup.namespace, labelSelector: "\(Self.ownerLabel(ownerKind))=\(backup.name)")
                    .filter { names.contains($0.name) }
            } catch {
                throw ClusterError.kube(error)
            }
            // A unit someone deleted will never finish: it counts as failed.
            for name in names where !units.contains(where: { $0.name == name }) {
                var gone = KubeObject(apiVersion: FerryKind.apiVersion, kind: FerryKind.volumeTransfer.rawValue, namespace: backup.namespace, name: name)
                gone.json["status"] = ["phase": "Failed", "message": "the VolumeTransfer was deleted before it finished"]
                units.append(gone)
            }
            let now = ContinuousClock.now
            for unit in units {
                let state = (unit["status"] ?? .null).serializedString()
                if lastChange[unit.name]?.state != state { lastChange[unit.name] = (state, now) }
                let quiet = now - lastChange[unit.name]!.at
                let phase = unit["status"]?["phase"]?.stringValue ?? ""
                switch phase.isEmpty ? "Pending" : phase {
                case "Running" where quiet >= timing.unitLease:
                    let attempt = unit["status"]?["attempt"]?.stringValue ?? ""
                    try await reset(unit, resource: resource, ["phase": "Pending", "message": .string("requeued: no heartbeat from attempt \(attempt) for \(timing.unitLease)")])
                    log("\(unit.label): requeued (attempt \(attempt) silent for \(timing.unitLease))")
                case "Pending" where quiet >= timing.claimTimeout:
                    let node = unit["spec"]?["node"]?.stringValue ?? "?"
                    try await reset(unit, resource: resource, ["phase": "Failed", "message": .string("no agent on node \(node) claimed it within \(timing.claimTimeout)")])
                default:
                    break
                }
            }
            let volumes = Self.summary(units, notMoved: notMoved)
            let summary = JSONValue.array(volumes).serializedString()
            if summary != reported {
                try await status.patch(ownerKind, backup, ["volumes": .array(volumes)])
                reported = summary
            }
            if units.allSatisfy({ ["Succeeded", "Failed"].contains($0["status"]?["phase"]?.stringValue ?? "") }) {
                return units
            }
            try await Task.sleep(for: timing.poll)
        }
    }

    /// The Backup's `status.volumes`: each unit's phase and progress, and the volumes not moved.
    static func summary(_ units: [KubeObject], notMoved: [NotMoved]) -> [JSONValue] {
        units.map { unit -> JSONValue in
            ["claim": unit["spec"]?["volume"] ?? .null, "phase": unit["status"]?["phase"] ?? "Pending",
             "bytesDone": unit["status"]?["bytesDone"] ?? .null, "bytesTotal": unit["status"]?["bytesTotal"] ?? .null,
             "message": unit["status"]?["message"] ?? .null]
        } + notMoved.map { ["claim": .string($0.claim), "phase": .string($0.phase), "message": .string($0.reason)] }
    }

    /// Replaces a unit's status (conditional on the version read: an agent's write in between wins).
    func reset(_ unit: KubeObject, resource: APIResource, _ status: JSONValue) async throws {
        var changed = unit
        changed.json["status"] = status
        do {
            _ = try await client.updateStatus(resource, changed)
        } catch .conflict {
            // The agent wrote first; judged again on the next round.
        } catch {
            throw ClusterError.kube(error)
        }
    }
}
