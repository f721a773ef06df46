import ArgumentParser
import FerryKube

/// How to reach the Kubernetes API: a kubeconfig file and context, or the pod's service account.
struct KubeOptions: ParsableArguments {
    @Option(help: ArgumentHelp("Kubeconfig file (default: KUBECONFIG, ~/.kube/config, or the pod's service account).", valueName: "file"))
    var kubeconfig: String?

    @Option(help: ArgumentHelp("Kubeconfig context (default: the current context).", valueName: "name"))
    var context: String?

    @Option(help: ArgumentHelp("Requests per second to the Kubernetes API, sustained (default 50).", valueName: "n"))
    var clientQps: Double?

    @Option(help: ArgumentHelp("Requests to the Kubernetes API allowed at once above --client-qps (default 100).", valueName: "n"))
    var clientBurst: Int?

    func validate() throws {
        if let clientQps, !(clientQps > 0) { throw ValidationError("--client-qps must be more than 0") }
        if let clientBurst, clientBurst < 1 { throw ValidationError("--client-burst must be at least 1") }
    }

    /// The client; `observer` is told of every request it sends; `component` names the
    /// process in the User-Agent (`ferry-agent`).
    func client(observer: KubeRequestObserver? = nil, component: String? = nil) throws -> KubeClient {
        var configuration = try KubeClientConfiguration.fromEnvironment(kubeconfig: kubeconfig, context: context)
        if let component { configuration.userAgent = "ferry-\(component)" }
        if let clientQps { configuration.queriesPerSecond = clientQps }
        if let clientBurst { configuration.burst = clientBurst }
        return KubeClient(configuration: configuration, observer: observer)
    }
}
