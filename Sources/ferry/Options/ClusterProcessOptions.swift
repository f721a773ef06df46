import ArgumentParser
import FerryMetrics
import Foundation

/// What the long-running cluster processes (`coordinator`, `agent`) share: how to reach the API,
/// which namespace to watch, who they are, and where index caches go.
struct ClusterProcessOptions: ParsableArguments {
    @OptionGroup var kube: KubeOptions

    @Option(name: .long, help: ArgumentHelp("Watch only this namespace (default: all).", valueName: "namespace"))
    var watchNamespace: String?

    @Option(name: .long, help: ArgumentHelp("This process's identity (default: POD_NAME, else the host name).", valueName: "name"))
    var identity: String?

    @Option(name: .long, help: ArgumentHelp("Index cache directory (default: FERRY_CACHE_DIR; none if unset).", valueName: "dir"))
    var cacheDir: String?

    @Option(name: .long, help: ArgumentHelp("Serve Prometheus metrics (/metrics) and /healthz on this address.", valueName: "host:port"))
    var metricsAddress: String?

    /// The metrics registry and, when --metrics-address is given, its server (run alongside the
    /// process's work: `withMetrics`).
    func withMetrics(_ body: @escaping @Sendable (ClusterMetrics?) async throws -> Void) async throws {
        guard let metricsAddress else { return try await body(nil) }
        guard let colon = metricsAddress.lastIndex(of: ":"), let port = Int(metricsAddress[metricsAddress.index(after: colon)...]),
            (0...65535).contains(port)
        else {
            throw ValidationError("--metrics-address must be host:port, not \(metricsAddress)")
        }
        let host = metricsAddress[..<colon].isEmpty ? "0.0.0.0" : String(metricsAddress[..<colon])
        let metrics = ClusterMetrics()
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                try await MetricsServer(metrics: metrics).run(host: host, port: port) {
                    Self.log("metrics on http://\(host):\($0)/metrics")
                }
            }
            group.addTask { try await body(metrics) }
            try await group.next()
            group.cancelAll()
        }
    }

    /// --identity, else the pod's name, else the host name.
    func identity(_ environment: [String: String]) -> String {
        identity ?? environment["POD_NAME"] ?? ProcessInfo.processInfo.hostName
    }

    /// --cache-dir, else FERRY_CACHE_DIR.
    func cacheDirectory(_ environment: [String: String]) -> String? { cacheDir ?? environment["FERRY_CACHE_DIR"] }

    /// Log lines on stderr, each with its UTC time.
    static func log(_ line: String) {
        Terminal.error("\(Date().formatted(Date.ISO8601FormatStyle())) \(line)")
    }
}
