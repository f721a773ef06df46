import ArgumentParser
import FerryKube

/// How to reach the Kubernetes API: a kubeconfig file and context, or the pod's service account.
struct KubeOptions: ParsableArguments {
    @Option(help: ArgumentHelp("Kubeconfig file (default: KUBECONFIG, ~/.kube/config, or the pod's service account).", valueName: "file"))
    var kubeconfig: String?

    @Option(help: ArgumentHelp("Kubeconfig context (default: the current context).", valueName: "name"))
    var context: String?

    /// The client; `observer` is told of every request it sends.
    func client(observer: KubeRequestObserver? = nil) throws -> KubeClient {
        try KubeClient.fromEnvironment(kubeconfig: kubeconfig, context: context, observer: observer)
    }
}
