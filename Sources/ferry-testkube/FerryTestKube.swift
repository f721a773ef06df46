import ArgumentParser
import FerryKubeTestServer
import Foundation

/// `ferry-testkube`: runs the Kubernetes API test server for end-to-end scripts (kubectl, helm).
/// Test support only; never shipped in the `ferry` image.
@main
struct FerryTestKube: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ferry-testkube",
        abstract: "Serve a kube-apiserver stand-in on 127.0.0.1 for tests (TLS with its own CA, and plain HTTP, on one port).")

    @Option(help: "Port to listen on (0 picks a free one).")
    var port: Int = 0

    @Option(help: "Directory of YAML/JSON manifests to load before serving.")
    var load: String?

    @Option(help: "Write a kubeconfig for this server, acting as the admin, to this file.")
    var kubeconfig: String?

    @Option(
        help: ArgumentHelp(
            "Bearer token of the admin (system:admin in system:masters, allowed everything).",
            discussion: "Without it a random one is generated; it is only written into the --kubeconfig file."))
    var adminToken: String?

    @Flag(help: "Admit requests without credentials as system:anonymous everywhere (kube-apiserver's --anonymous-auth=true).")
    var anonymousAuth = false

    @Flag(help: "Serve only legacy discovery (no aggregated APIGroupDiscoveryList).")
    var legacyDiscovery = false

    func run() async throws {
        var options = KubeTestServer.Options()
        options.aggregatedDiscovery = !legacyDiscovery
        options.authentication.adminToken = adminToken
        if anonymousAuth { options.authentication.anonymous = .everywhere }
        let server = try KubeTestServer(options: options)
        if let load {
            let loaded = try await server.load(directory: URL(fileURLWithPath: load))
            print("loaded \(loaded.count) objects from \(load)")
        }
        try await server.start(port: port)
        if let kubeconfig {
            try server.kubeconfig().write(toFile: kubeconfig, atomically: true, encoding: .utf8)
            try FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: kubeconfig)
        }
        if kubeconfig == nil && adminToken == nil {
            FileHandle.standardError.write(Data("ferry-testkube: no --kubeconfig or --admin-token: nobody holds the admin's token\n".utf8))
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
