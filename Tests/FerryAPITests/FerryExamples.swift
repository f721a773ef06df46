import FerryAPI
import FerryKube
import FerryRepo
import Foundation

/// One value of each kind's spec and status with every field set, for the CRD agreement tests.
enum FerryExamples {
    static let time = Date(timeIntervalSince1970: 1_790_000_000)
    static let selector = LabelSelectorSpec(
        matchLabels: ["app": "db"], matchExpressions: [.init(key: "tier", operator: "In", values: ["a"])])

    static var targetSpec: TargetSpec {
        TargetSpec(
            path: "/srv/backups",
            s3: .init(
                endpoint: "https://s3.example", bucket: "b", prefix: "p", region: "r", addressing: .path,
                insecureSkipTLSVerify: false, credentialsSecret: .init(name: "creds")),
            encryptionSecret: .init(name: "password", key: "password"), prune: .init(schedule: "@daily", maxUnusedPercent: 20),
            initialize: true, immutability: .init(mode: .compliance, days: 30))
    }

    static var targetStatus: TargetStatus {
        var status = TargetStatus()
        status.phase = .ready
        status.location = "s3://b/p"
        status.message = "m"
        status.repositoryID = "id"
        status.lastCheckTime = time
        status.observedGeneration = 2
        status.lastPruneTime = time
        status.pruneError = "e"
        status.lastPrune = .init(packsDeleted: 1, packsRewritten: 2, bytesReclaimed: 3, marksWaiting: 4)
        return status
    }

    static func backupPlanSpec(cluster: Bool) -> BackupPlanSpec {
        BackupPlanSpec(
            target: "t", schedule: "@daily",
            components: .init(
                helmReleases: ["web"],
                operators: [
                    .init(
                        name: "o", subscription: "s", helmRelease: "h", deployment: "d",
                        customResources: ["Memcached.cache.example.com"])
                ],
                labelSelector: selector, virtualMachines: [.init(name: "vm")], wholeNamespace: true),
            retention: .init(keepLast: 1, keepHourly: 1, keepDaily: 1, keepWeekly: 1, keepMonthly: 1, keepYearly: 1),
            parallelism: .init(rangesPerVolume: 2, minimumRangeSize: "16Gi"),
            namespaces: cluster ? ["a"] : nil, namespaceSelector: cluster ? selector : nil,
            exclude: [.init(kind: "Secret", group: "", namespace: "n", name: "s")],
            hooks: BackupHooks(pre: [hook], post: [hook]))
    }

    static let hook = ExecHook(
        name: "flush", podSelector: selector, component: ApplicationComponent(kind: .helmRelease, namespace: "n", name: "web"),
        container: "db", command: ["sh", "-c", "sync"], timeoutSeconds: 10, onError: .continue,
        mode: .parallel, readyTimeoutSeconds: 60)

    static let hookResults: [HookResult] = {
        var result = HookResult(hook: "flush", when: .pre, pod: "db/db-0", container: "db", phase: .failed)
        result.exitCode = 3
        result.stdout = "o"
        result.stderr = "e"
        result.message = "m"
        result.startTime = time
        result.seconds = 0.5
        return [result]
    }()

    static var backupPlanStatus: BackupPlanStatus {
        var status = BackupPlanStatus()
        status.lastBackup = "b"
        status.lastBackupTime = time
        status.lastBackupPhase = .completed
        status.lastScheduleTime = time
        status.nextScheduleTime = time
        status.scheduleError = "e"
        return status
    }

    static var backupSpec: BackupSpec {
        var spec = BackupSpec(plan: "p", clusterPlan: "c")
        spec.timeout = "6h"
        return spec
    }

    static let volumes: [VolumeProgress] = {
        var volume = VolumeProgress(claim: "ns/c", phase: .running, bytesDone: 1, bytesTotal: 2, message: "m")
        volume.changeTracking = "hash"
        volume.bytesRead = 3
        volume.unchangedBlocks = 4
        volume.newBlocks = 5
        volume.bytesStored = 6
        return [volume]
    }()

    static var progress: VolumeCounts {
        var counts = VolumeCounts(volumes: 6)
        for phase in VolumePhase.allCases { counts[phase] = 1 }
        counts.pending = 2
        counts.bytesDone = 1
        counts.bytesTotal = 2
        return counts
    }

    static var backupStatus: BackupStatus {
        var status = BackupStatus()
        status.phase = .completed
        status.attempt = "a"
        status.startTime = time
        status.completionTime = time
        status.snapshot = "s"
        status.resources = 1
        status.bytesStored = 2
        status.volumes = volumes
        status.progress = progress
        status.volumesOmitted = 1
        status.hooks = hookResults
        status.warnings = ["w"]
        status.errors = ["e"]
        return status
    }

    static var restoreSpec: RestoreSpec {
        var spec = RestoreSpec(backup: "b", target: "t", snapshot: "s")
        spec.existingResources = .update
        spec.existingVolumes = .overwrite
        spec.waitTimeoutSeconds = 60
        spec.clusterWide = true
        spec.namespaceMapping = ["a": "b"]
        spec.timeout = "6h"
        let selection = RestoreSelection(
            components: [ApplicationComponent(kind: .virtualMachine, namespace: "vms", name: "db")],
            objects: [ObjectPattern(kind: "Secret", group: "", namespace: "vms", name: "s")],
            labelSelector: LabelSelectorSpec(
                matchLabels: ["app": "db"], matchExpressions: [.init(key: "tier", operator: "In", values: ["a"])]))
        spec.include = selection
        spec.exclude = selection
        spec.transforms = RestoreTransforms(
            patches: [
                ObjectPatch(
                    match: ObjectPattern(kind: "Deployment", group: "apps", namespace: "web", name: "hello"),
                    patch: [JSONPatchOperation(op: .move, path: "/spec/replicas", from: "/spec/x", value: 1)])
            ],
            storageClassMapping: ["old": "new"], helmValues: ["hello": ["replicaCount": 2]])
        spec.hooks = RestoreHooks(postRestore: [hook])
        return spec
    }

    static var restoreStatus: RestoreStatus {
        var status = RestoreStatus()
        status.phase = .completed
        status.attempt = "a"
        status.startTime = time
        status.completionTime = time
        status.snapshot = "s"
        status.created = 1
        status.existing = 1
        status.updated = 1
        status.failed = 1
        status.skipped = ["k"]
        status.excluded = 1
        status.volumesRestored = ["ns/c"]
        status.volumesSkipped = ["ns/d: in use"]
        status.volumes = volumes
        status.progress = progress
        status.volumesOmitted = 1
        status.hooks = hookResults
        status.warnings = ["w"]
        status.errors = ["e"]
        return status
    }

    static var volumeTransferSpec: VolumeTransferSpec {
        var spec = VolumeTransferSpec(
            direction: .restore, owner: "o", target: "t", node: "n", volume: "ns/c", snapshotName: "plan:ns/p",
            source: .init(path: "/dev/x", format: .raw, attached: true), snapshot: "s")
        spec.repository = String(repeating: "cd", count: 32)
        spec.range = .init(0..<4)
        spec.csi = CSIChangeSource(address: "a:1", caCert: "ca", audience: "aud", namespace: "ns", snapshot: "vs", snapshotHandle: "h")
        return spec
    }

    static var volumeTransferStatus: VolumeTransferStatus {
        var status = VolumeTransferStatus(phase: .succeeded, message: "m")
        status.attempt = "a"
        status.agent = "g"
        status.heartbeat = time
        status.requeues = 1
        status.bytesDone = 1
        status.bytesTotal = 2
        status.firstPage = 0
        status.pageList = PageList(id: ChunkID(hex: String(repeating: "ab", count: 32))!, count: 1)
        status.result = VolumeManifest(
            name: "ns/c", source: "/dev/x", format: "raw", size: 1, blockSize: 1, pageEntries: 1, pages: [],
            changeTracking: ChangeTrackingRecord(provider: "hash", bookmarkProvider: "csi", bookmark: [:], fallbackReason: "r"),
            stats: VolumeStats())
        status.written = .init(size: 1, bytesWritten: 1)
        return status
    }
}
