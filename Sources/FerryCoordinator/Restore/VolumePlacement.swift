/// Where a restore puts a snapshot volume's claim (`ns/claim` in the snapshot): the Restore's own
/// namespace, or for a cluster-wide restore the backed-up namespace (mapped).
struct VolumePlacement: Sendable {
    var namespace: String
    var clusterWide: Bool
    var mapping: [String: String]

    func namespace(of volume: String) -> String {
        guard clusterWide, let original = volume.split(separator: "/").first.map(String.init) else { return namespace }
        return mapping[original] ?? original
    }
}
