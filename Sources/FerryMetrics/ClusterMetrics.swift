import FerryAPI
import FerryKube
import Prometheus

/// What the coordinator and the agents count, for Prometheus (`/metrics` on `MetricsServer`):
/// Backups and Restores by namespace and outcome, their durations and the bytes they stored;
/// the agents' work units by direction and outcome, the bytes they moved, and those running;
/// the requests each process sends to the Kubernetes API.
/// One registry per process, handed down; no global metrics system.
public final class ClusterMetrics: Sendable {
    public let registry = PrometheusCollectorRegistry()

    public init() {}

    private static func name(_ metric: String, unit: String, help: String) -> MetricNameDescriptor {
        MetricNameDescriptor(namespace: "ferry", metricName: metric, unitName: unit, helpText: help)
    }

    /// A Backup or Restore ended (`phase`: Completed, PartiallyFailed or Failed). For a Backup
    /// that completed, `plan` (its BackupPlan, or `cluster/NAME`) gets the time, for alerts on
    /// plans that have not been backed up for too long.
    public func finished(
        _ kind: FerryKind, namespace: String, plan: String?, phase: JobPhase, seconds: Double, bytesStored: Int64?, at time: Double
    ) {
        if kind == .backup, phase == .completed, let plan {
            registry.makeGauge(
                descriptor: Self.name(
                    "backup_last_success_timestamp", unit: "seconds",
                    help: "When the last Backup of a plan completed (Unix time)."),
                labels: [("namespace", namespace), ("plan", plan)]
            ).set(time)
        }
        let noun = kind == .restore ? "restore" : "backup"
        registry.makeCounter(
            descriptor: Self.name("\(noun)s", unit: "total", help: "\(kind.rawValue)s carried out, by namespace and outcome."),
            labels: [("namespace", namespace), ("phase", phase.rawValue)]
        ).increment()
        registry.makeValueHistogram(
            descriptor: Self.name("\(noun)_duration", unit: "seconds", help: "How long \(kind.rawValue)s took."),
            labels: [("namespace", namespace)], buckets: [10, 30, 60, 300, 900, 1800, 3600, 7200, 14400, 43200]
        )
        .record(seconds)
        if let bytesStored, bytesStored > 0 {
            registry.makeCounter(
                descriptor: Self.name(
                    "backup_stored_bytes", unit: "total",
                    help: "Bytes Backups added to their repositories (after dedup, compression and encryption)."),
                labels: [("namespace", namespace)]
            ).increment(by: bytesStored)
        }
    }

    /// A VolumeTransfer this agent carried out ended.
    public func unitFinished(direction: VolumeTransferSpec.Direction, phase: UnitPhase, bytes: Int64) {
        registry.makeCounter(
            descriptor: Self.name(
                "agent_units", unit: "total", help: "Volume work units this agent carried out, by direction and outcome."),
            labels: [("direction", direction.rawValue), ("phase", phase.rawValue)]
        ).increment()
        if bytes > 0 {
            registry.makeCounter(
                descriptor: Self.name(
                    "agent_volume_bytes", unit: "total", help: "Bytes of volumes this agent read (Backup) or wrote (Restore)."),
                labels: [("direction", direction.rawValue)]
            ).increment(by: bytes)
        }
    }

    /// A request this process sent to the Kubernetes API (`KubeClient`'s observer).
    public func kubeRequest(_ request: KubeRequestRecord) {
        registry.makeCounter(
            descriptor: Self.name(
                "kube_requests", unit: "total",
                help: "Requests sent to the Kubernetes API, by verb, resource and HTTP status (0: no answer)."),
            labels: [("verb", request.verb), ("resource", request.resource), ("code", String(request.status))]
        ).increment()
    }

    /// This registry counting a KubeClient's requests.
    public var kubeRequestObserver: KubeRequestObserver { KubeRequestObserver { [self] in kubeRequest($0) } }

    /// The volume work units running on this agent now.
    public func unitsRunning(_ change: Double) {
        registry.makeGauge(descriptor: Self.name("agent_units_running", unit: "", help: "Volume work units running on this agent."))
            .increment(by: change)
    }
}
