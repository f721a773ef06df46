import FerryKube
import FerryMover
import FerryRepo
import FerryVolume
import Foundation

/// The node agent (`ferry agent`, a DaemonSet): carries out the `VolumeTransfer`s labelled for
/// its node. It claims a unit with a conditional status write that records its attempt id (so
/// two agents never both run it; `maxConcurrentUnits` at once), heartbeats while it reads, stores the volume in the Target's
/// repository (flushed, not committed: the coordinator commits the snapshot when every unit of
/// the Backup is done), and writes the volume's manifest entry as the unit's result. Every
/// status write is conditional and only under its own attempt: a unit the coordinator has
/// requeued is left to its new attempt.
public struct Agent: Sendable {
    public struct Options: Sendable {
        public var node: String
        public var identity: String
        /// Watch only this namespace (nil: all).
        public var namespace: String?
        /// Where the host's file system is mounted in the agent's container ("" when it runs on
        /// the host itself).
        public var hostRoot = ""
        public var heartbeat: Duration = .seconds(10)
        public var cacheDirectory: String?
        /// Units carried out at once on this node.
        public var maxConcurrentUnits = 1
        /// The agent's own ServiceAccount, whose tokens a CSI SnapshotMetadata service accepts.
        public var serviceAccount: (namespace: String, name: String)?
        /// Where units are counted for `/metrics` (nil: not counted).
        public var metrics: ClusterMetrics?

        public init(node: String, identity: String, namespace: String?) {
            self.node = node
            self.identity = identity
            self.namespace = namespace
        }
    }

    public let client: KubeClient
    public let options: Options
    let log: @Sendable (String) -> Void

    public init(client: KubeClient, options: Options, log: @escaping @Sendable (String) -> Void) {
        self.client = client
        self.options = options
        self.log = log
    }

    public func run() async throws {
        let resource = try await FerryKind.volumeTransfer.resource(client)
        let selector = "\(VolumeTransferSpec.nodeLabel)=\(VolumeTransferSpec.nodeLabelValue(options.node))"
        let (units, queue) = AsyncStream<KubeObject>.makeStream()
        log("agent on node \(options.node) watching VolumeTransfers (\(selector))")
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                try await client.forEachWorkItem(resource, namespace: options.namespace, labelSelector: selector, where: Self.isPending) { queue.yield($0) }
            }
            group.addTask {
                // The same pending unit may come twice (list, then an event): the claim's
                // conditional write lets only one attempt have it.
                await forEachConcurrently(units, limit: options.maxConcurrentUnits) { unit in
                    let attempt = "\(options.identity)-\(SecureRandom.hex(4))"
                    guard let claimed = await claim(unit, attempt: attempt, resource: resource) else { return }
                    await transfer(claimed, attempt: attempt, resource: resource)
                }
            }
            try await group.next()
            group.cancelAll()
        }
    }

    static func isPending(_ object: KubeObject) -> Bool {
        object.deletionTimestamp == nil && ["", "Pending"].contains(object["status"]?["phase"]?.stringValue ?? "")
    }

    /// Takes the unit: a status write conditional on the version we saw. Nil when another
    /// agent (or the coordinator) changed it first.
    func claim(_ unit: KubeObject, attempt: String, resource: APIResource) async -> KubeObject? {
        var claimed = unit
        claimed.json["status"] = [
            "phase": "Running", "attempt": .string(attempt), "agent": .string(options.identity), "heartbeat": StatusWriter.now(),
        ]
        do {
            return try await client.updateStatus(resource, claimed)
        } catch .conflict {
            return nil
        } catch {
            log("\(unit.label): cannot claim: \(error)")
            return nil
        }
    }

    func transfer(_ unit: KubeObject, attempt: String, resource: APIResource) async {
        log("\(unit.label): \(unit["spec"]?["direction"]?.stringValue ?? "Backup") \(unit["spec"]?["source"]?["path"]?.stringValue ?? "") (attempt \(attempt))")
        var heartbeat: Task<Void, Never>?
        defer { heartbeat?.cancel() }
        let direction = unit["spec"]?["direction"]?.stringValue ?? VolumeTransferSpec.Direction.backup.rawValue
        options.metrics?.unitsRunning(1)
        defer { options.metrics?.unitsRunning(-1) }
        do {
            let spec = try VolumeTransferSpec(unit)
            guard spec.node == options.node else {
                throw ClusterError.invalidSpec(object: unit.label, field: "spec.node", message: "is \(spec.node), this agent runs on \(options.node)")
            }
            let target = try TargetSpec(try await FerryKind.target.get(client, namespace: unit.namespace ?? "", name: spec.target, neededBy: unit.label))
            // A backup's write session reads the index itself; a restore reads chunks through it.
            let repository = try await TargetConnector(client: client, cacheDirectory: options.cacheDirectory)
                .open(target, loadIndex: spec.direction == .restore)
            let result: JSONValue
            switch spec.direction {
            case .backup:
                guard let format = ImageFormat(rawValue: spec.format) else {
                    throw ClusterError.invalidSpec(object: unit.label, field: "spec.source.format", message: "must be auto, raw or qcow2")
                }
                let source = try format.open(path: options.hostRoot + spec.path, force: spec.attached)
                defer { (source as? RawBlockSource)?.close() }
                let progress = TransferProgress(total: spec.pages.map {
                    VolumeRanges.bytes(of: $0, size: source.size, blockSize: repository.config.blockSize, pageEntries: repository.config.blockMapPageEntries)
                } ?? source.size)
                heartbeat = beat(unit, attempt: attempt, resource: resource, progress: progress)
                let volume = try await backup(spec, source: source, repository: repository, progress: progress)
                let tracking = volume.changeTracking.map { " (changes: \($0.provider)\($0.fallbackReason.map { "; \($0)" } ?? ""))" } ?? ""
                log("\(unit.label): stored \(volume.name): \(volume.stats.newBlocks) new, \(volume.stats.unchangedBlocks) unchanged blocks, read \(volume.stats.bytesRead) bytes\(tracking)")
                result = try JSONValue(parsing: try [UInt8](Repository.encoder.encode(volume)))
            case .restore:
                let snapshot = try await repository.snapshot(matching: spec.snapshot ?? "")
                guard let volume = snapshot.manifest.volumes.first(where: { $0.name == spec.volume }) else {
                    throw ClusterError.invalidSpec(object: unit.label, field: "spec.volume", message: "snapshot \(snapshot.id.short) has no volume \(spec.volume)")
                }
                let progress = TransferProgress(total: volume.size)
                heartbeat = beat(unit, attempt: attempt, resource: resource, progress: progress)
                let written = try await VolumeRestore(repository: repository, volume: volume, target: options.hostRoot + spec.path,
                                                      request: RestoreRequest(force: spec.attached, progress: progress)).run()
                log("\(unit.label): wrote \(volume.name) to \(spec.path)")
                result = ["size": .int(written.size), "bytesWritten": .int(written.bytesWritten)]
            }
            heartbeat?.cancel()
            let size = result["stats"]?["size"] ?? result["size"] ?? .null
            var outcome: JSONValue = ["phase": "Succeeded", "result": result, "bytesDone": size, "bytesTotal": size, "heartbeat": StatusWriter.now()]
            if let pages = spec.pages, spec.direction == .backup { outcome["firstPage"] = .int(Int64(pages.lowerBound)) }
            _ = await write(unit, attempt: attempt, resource: resource, outcome)
            options.metrics?.unitFinished(direction: direction, succeeded: true,
                                          bytes: result["stats"]?["bytesRead"]?.intValue ?? result["bytesWritten"]?.intValue ?? 0)
        } catch {
            heartbeat?.cancel()
            log("\(unit.label): failed: \(error)")
            _ = await write(unit, attempt: attempt, resource: resource, ["phase": "Failed", "message": .string("\(error)")])
            options.metrics?.unitFinished(direction: direction, succeeded: false, bytes: 0)
        }
    }

    /// Reports progress every heartbeat interval until cancelled or the unit is no longer ours.
    func beat(_ unit: KubeObject, attempt: String, resource: APIResource, progress: TransferProgress) -> Task<Void, Never> {
        Task {
            while !Task.isCancelled {
                try? await Task.sleep(for: options.heartbeat)
                guard !Task.isCancelled else { return }
                let fields: JSONValue = ["heartbeat": StatusWriter.now(), "bytesDone": .int(progress.completed), "bytesTotal": .int(progress.total)]
                guard await write(unit, attempt: attempt, resource: resource, fields) else { return }
            }
        }
    }

    /// Stores the volume in the Target's repository, compared with its latest earlier copy.
    func backup(_ spec: VolumeTransferSpec, source: any BlockSource, repository: Repository, progress: TransferProgress) async throws -> VolumeManifest {
        var parent: Snapshot?
        if let name = spec.snapshotName {
            parent = try await repository.snapshots().snapshots.last { $0.manifest.name == name && $0.manifest.volumes.contains { $0.name == spec.volume } }
        }
        var request = BackupRequest(name: spec.volume, blockSize: repository.config.blockSize, parent: parent,
                                    format: source is QCOW2BlockSource ? "qcow2" : "raw", progress: progress)
        request.volumeName = spec.volume
        request.pages = spec.pages
        request.changeTracker = await AgentChangeTracking(serviceAccount: options.serviceAccount, client: client)
            .tracker(for: spec, source: source, parent: parent?.manifest.volumes.first { $0.name == spec.volume })
        let session = try await repository.beginSession()
        do {
            let (volume, _) = try await VolumeBackup(source: source, repository: repository, request: request).store(in: session)
            await session.end()
            return volume
        } catch {
            await session.end()
            throw error
        }
    }

    /// Merges `fields` into the unit's status if it is still this attempt's; false when the unit
    /// was requeued or taken over (then this agent stops writing to it).
    func write(_ unit: KubeObject, attempt: String, resource: APIResource, _ fields: JSONValue) async -> Bool {
        for _ in 0..<5 {
            do {
                var current = try await client.get(resource, namespace: unit.namespace, name: unit.name)
                guard current["status"]?["attempt"]?.stringValue == attempt else {
                    log("\(unit.label): no longer this agent's attempt; leaving it")
                    return false
                }
                current.json["status"] = (current["status"] ?? [:]).merging(fields)
                _ = try await client.updateStatus(resource, current)
                return true
            } catch .conflict {
                continue
            } catch {
                log("\(unit.label): status write failed: \(error)")
                return false
            }
        }
        return false
    }
}
