import ArgumentParser
import FerryKube
import FerryKubeControllers
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

    @Option(
        help: ArgumentHelp(
            "Play a cluster of these nodes (comma-separated) on this host.",
            discussion: """
                Runs, as clients of the server, a StatefulSet controller, a scheduler, a provisioner of local volumes for \
                StorageClasses with provisioner local.e2e.ferry.dev (loop devices for Block claims, directories for \
                Filesystem ones; root needed) and the nodes' kubelets (pods Running once their claims are bound, volumes \
                linked under --kubelet-root). No container is run.
                """))
    var nodes: String?

    @Option(help: "With --nodes: where provisioned volumes live (files behind loop devices, directories).")
    var volumesDir: String?

    @Option(help: "With --nodes: the kubelet directory of every node.")
    var kubeletRoot: String?

    func validate() throws {
        if nodes != nil && (volumesDir == nil || kubeletRoot == nil) {
            throw ValidationError("--nodes needs --volumes-dir and --kubelet-root")
        }
    }

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
        var controllers: ClusterControllers?
        var controllersTask: Task<Void, Never>?
        if let nodes, let volumesDir, let kubeletRoot {
            let options = ClusterControllers.Options(
                nodes: nodes.split(separator: ",").map(String.init), volumesDirectory: volumesDir, kubeletRoot: kubeletRoot)
            let running = ClusterControllers(client: KubeClient(configuration: server.clientConfiguration()), options: options) {
                FileHandle.standardError.write(Data("controllers: \($0)\n".utf8))
            }
            controllers = running
            controllersTask = Task {
                do {
                    try await running.run()
                } catch {
                    FileHandle.standardError.write(Data("ferry-testkube: the controllers stopped: \(error)\n".utf8))
                }
            }
        }
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
        controllersTask?.cancel()
        await controllersTask?.value
        await controllers?.detachVolumes()
        await server.shutdown()
    }
}
