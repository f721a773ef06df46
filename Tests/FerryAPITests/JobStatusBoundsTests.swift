import FerryAPI
import FerryKube
import Foundation
import Testing

/// A job's status fits one write to the API server whatever the job's size: etcd refuses
/// requests over 1.5 MiB, and a Backup of 10,000 volumes that listed each one failed so.
@Suite struct JobStatusBoundsTests {
    /// etcd's default request limit (`--max-request-bytes`), which the whole object must fit.
    static let requestLimit = 1_572_864

    /// 10,000 volumes (every 97th failed, with a long message), 10,000 errors and warnings and
    /// 1,000 hook results with full output: the worst a big Backup can record.
    static func hugeStatus() -> BackupStatus {
        var status = BackupStatus()
        status.phase = .partiallyFailed
        let long = String(repeating: "the agent on node n-1 could not read /dev/mapper/x: ", count: 100)
        let volumes = (0..<10_000).map { index in
            index % 97 == 0
                ? VolumeProgress(claim: "ns-\(index / 10)/claim-\(index % 10)", phase: .failed, message: long)
                : VolumeProgress(claim: "ns-\(index / 10)/claim-\(index % 10)", phase: .succeeded, bytesDone: 1 << 20, bytesTotal: 1 << 20)
        }
        status.record(volumes: volumes)
        status.errors = (0..<10_000).map { "volume ns-\($0)/claim: \(long)" }
        status.warnings = (0..<10_000).map { "warning \($0)" }
        let output = String(repeating: "x", count: HookResult.outputLimit)
        status.hooks = (0..<1_000).map { index in
            var result = HookResult(hook: "flush", when: .pre, pod: "ns-\(index)/db-0", phase: index == 999 ? .failed : .succeeded)
            result.stdout = output
            result.stderr = output
            return result
        }
        return status
    }

    @Test func theWorstStatusFitsOneRequest() throws {
        let status = Self.hugeStatus().bounded()
        var backup = Backup(namespace: "ferry", name: "cluster-nightly-20261207", spec: BackupSpec(clusterPlan: "nightly"))
        backup.status = status
        let bytes = try backup.encoded().json.serializedString().utf8.count
        #expect(bytes < Self.requestLimit * 2 / 3, "\(bytes) bytes")
        // Unbounded, it would not have fitted.
        var unbounded = backup
        unbounded.status = Self.hugeStatus()
        unbounded.status.record(volumes: [], bounds: .standard)
        unbounded.status.volumes = (0..<10_000).map { VolumeProgress(claim: "ns-\($0 / 10)/claim-\($0 % 10)", phase: .succeeded) }
        #expect(try unbounded.encoded().json.serializedString().utf8.count > Self.requestLimit)
    }

    @Test func countsStayWholeAndFailuresAreListedFirst() {
        let status = Self.hugeStatus().bounded()
        let progress = status.progress
        #expect(progress?.volumes == 10_000)
        #expect(progress?.failed == 104 && progress?.succeeded == 9_896)
        #expect(progress?.bytesDone == Int64(9_896) << 20)
        let listed = status.volumes ?? []
        #expect(listed.count == JobStatusBounds.standard.volumes)
        #expect(status.volumesOmitted == 10_000 - listed.count)
        // Every failed volume is listed (there are fewer than the bound), in the original order.
        #expect(listed.filter { $0.phase == .failed }.count == 104)
        #expect(listed.map(\.claim) == listed.map(\.claim).sorted { $0.localizedStandardCompare($1) == .orderedAscending })
        #expect(listed.allSatisfy { ($0.message?.count ?? 0) <= JobStatusBounds.standard.messageLength })
        // Lists cut say how much more there was.
        #expect(status.errors?.count == JobStatusBounds.standard.messages)
        #expect(status.errors?.last?.hasPrefix("… and 9901 more") == true)
        #expect(status.hooks?.count == JobStatusBounds.standard.hooks)
        #expect(status.hooks?.contains { $0.phase == .failed } == true)
    }

    @Test func aStatusWithinTheBoundsIsLeftAsItIs() {
        var status = BackupStatus()
        status.record(volumes: [VolumeProgress(claim: "db/data", phase: .running, bytesDone: 1, bytesTotal: 2)])
        status.errors = ["volume db/logs: failed"]
        status.hooks = []
        #expect(status.bounded() == status)
        #expect(status.volumesOmitted == nil && status.progress?.running == 1 && status.progress?.volumes == 1)
    }

    @Test func aCutRestoreSaysWhereTheRestIs() {
        var status = RestoreStatus()
        status.volumesRestored = (0..<5_000).map { "ns-\($0)/data" }
        status.skipped = (0..<5_000).map { "ConfigMap ns-\($0)/c" }
        status.volumesSkipped = (0..<500).map { "ns-\($0)/data: in use by pod ns-\($0)/db-0" }
        let bounded = status.bounded()
        #expect(bounded.volumesRestored?.count == JobStatusBounds.standard.names)
        #expect(bounded.volumesRestored?.last?.contains("4001 more (the snapshot lists every volume)") == true)
        #expect(bounded.skipped?.count == JobStatusBounds.standard.names)
        #expect(bounded.volumesSkipped?.count == JobStatusBounds.standard.messages)
    }

    /// The CRDs refuse lists longer than the bounds (a real API server answers 422), so the
    /// bounds and the schema must agree.
    @Test(arguments: [FerryKind.backup, .restore])
    func theCRDsAllowWhatTheBoundsKeep(kind: FerryKind) throws {
        let status = try #require(try CRDAgreementTests.schema(of: kind)["properties"]?["status"]?["properties"])
        let bounds = JobStatusBounds.standard
        var limits = ["volumes": bounds.volumes, "hooks": bounds.hooks, "warnings": bounds.messages, "errors": bounds.messages]
        if kind == .restore {
            limits["volumesRestored"] = bounds.names
            limits["skipped"] = bounds.names
            limits["volumesSkipped"] = bounds.messages
        }
        for (field, limit) in limits {
            #expect(status[field]?["maxItems"]?.intValue == Int64(limit), "\(kind) status.\(field)")
        }
    }
}
