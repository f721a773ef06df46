import ArgumentParser
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

    var resolvedIdentity: String { identity ?? ProcessInfo.processInfo.environment["POD_NAME"] ?? ProcessInfo.processInfo.hostName }
    var resolvedCacheDirectory: String? { cacheDir ?? ProcessInfo.processInfo.environment["FERRY_CACHE_DIR"] }

    /// Log lines on stderr, each with its UTC time.
    static func log(_ line: String) {
        Terminal.error("\(Date().formatted(Date.ISO8601FormatStyle())) \(line)")
    }
}
