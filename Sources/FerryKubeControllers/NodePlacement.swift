import FerryKube

/// Where the box puts what no claim or volume pins yet: the node with the fewest volumes of the
/// provisioner (the first of them on a tie), so that volumes spread over the nodes.
struct NodePlacement: Sendable {
    let client: KubeClient
    let nodes: [String]
    /// The provisioner whose volumes count.
    let provisioner: String

    func leastLoadedNode() async throws -> String {
        let volumes = try await client.resource(apiVersion: "v1", kind: "PersistentVolume")
        var count: [String: Int] = [:]
        for pv in try await client.listAll(volumes, namespace: nil)
        where pv.annotations["pv.kubernetes.io/provisioned-by"] == provisioner {
            for node in PersistentVolumeView(pv)?.affinityHostnames ?? [] { count[node, default: 0] += 1 }
        }
        return nodes.min { count[$0, default: 0] < count[$1, default: 0] } ?? nodes[0]
    }
}
