import FerryApps
import FerryKube
import FerryKubeTestSupport

extension KubeTestCluster {
    func discover(_ selector: ApplicationSelector, namespace: String, pageSize: Int = 500) async throws -> DiscoveryResult {
        try await discover(selector, scope: .namespace(namespace), pageSize: pageSize)
    }

    func discover(
        _ selector: ApplicationSelector, scope: DiscoveryScope, pageSize: Int = 500, helmReleaseLimit: Int? = nil,
        exclusions: [ObjectPattern] = []
    ) async throws -> DiscoveryResult {
        var options = ApplicationDiscovery<KubeClient>.Options()
        options.pageSize = pageSize
        options.exclusions = exclusions
        if let helmReleaseLimit { options.helmReleaseLimit = helmReleaseLimit }
        return try await ApplicationDiscovery(api: client, options: options).discover(selector, scope: scope)
    }
}

extension DiscoveryResult {
    /// One line per component: `Kind.group ns/name <- reason; reason` (sorted), for exact assertions.
    var summary: [String] {
        components.map { component in
            "\(component.reference) <- " + component.reasons.map(\.description).sorted().joined(separator: "; ")
        }
    }

    var references: [String] { components.map(\.reference.description) }
}
