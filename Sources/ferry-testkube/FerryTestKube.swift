import ArgumentParser
import FerryKubeTestServer
import Foundation

/// `ferry-testkube`: runs the Kubernetes API test server for end-to-end scripts (kubectl, helm).
/// Test support only; never shipped in the `ferry` image.
@main
struct FerryTestKube: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ferry-testkube",
        abstract: "Serve a kube-apiserver stand-in on 127.0.0.1 for tests (plain HTTP).")

    @Option(help: "Port to listen on (0 picks a free one).")
    var port: Int = 0

    @Option(help: "Directory of YAML/JSON manifests to load before serving.")
    var load: String?

    @Option(help: "Write a kubeconfig for this server to this file.")
    var kubeconfig: String?

    @Flag(help: "Serve only legacy discovery (no aggregated APIGroupDiscoveryList).")
    var legacyDiscovery = false

    func run() async throws {
        var options = KubeTestServer.Options()
        options.aggregatedDiscovery = !legacyDiscovery
        let server = try KubeTestServer(options: options)
        if let load {
            let loaded = try await server.load(directory: URL(fileURLWithPath: load))
            print("loaded \(loaded.count) objects from \(load)")
        }
        try await server.start(port: port)
        if let kubeconfig {
            try server.kubeconfig().write(toFile: kubeconfig, atomically: true, encoding: .utf8)
        }
        print("ferry-testkube listening on \(server.url)")
        fflush(nil)
        let (signals, continuation) = AsyncStream<Int32>.makeStream()
        var sources: [any DispatchSourceSignal] = []
        for sig in [SIGINT, SIGTERM] {
            signal(sig, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: sig, queue: .global())
            source.setEventHandler { continuation.yield(sig) }
            source.resume()
            sources.append(source)
        }
        for await _ in signals { break }
        sources.forEach { $0.cancel() }
        await server.shutdown()
    }
}
