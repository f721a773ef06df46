import FerryApps
import FerryKube
import FerryRepo

/// Stores what discovery found into a write session: each object (in its captured form) as a
/// metadata chunk of canonical JSON, then the catalog pages that list them in restore order.
/// An object unchanged since an earlier backup has the same chunk id, so it is stored once. Each
/// catalog entry records the components the object belongs to (`ComponentMembership`).
public enum ResourceCapture {
    public static func store(_ result: DiscoveryResult, in session: WriteSession) async throws -> ResourceManifest {
        let membership = ComponentMembership.of(result)
        var entries: [ResourceEntry] = []
        for step in result.restorePlan {
            for component in step.components {
                let bytes = component.object.json.serialized()
                let id = try await session.storeMetadata(bytes)
                entries.append(
                    ResourceEntry(
                        apiVersion: component.apiVersion, kind: component.reference.kind, resource: component.resource,
                        namespaced: component.namespaced, namespace: component.reference.namespace, name: component.reference.name,
                        phase: step.phase.identifier, reasons: component.reasons.sorted().map(\.description), object: id.hex,
                        size: bytes.count, components: (membership[component.reference] ?? []).sorted()))
            }
        }
        var pages: [ChunkID] = []
        var start = 0
        repeat {
            let page = ResourceCatalogPage(entries: Array(entries[start..<min(entries.count, start + ResourceManifest.entriesPerPage)]))
            pages.append(try await session.storeMetadata(try page.encode()))
            start += ResourceManifest.entriesPerPage
        } while start < entries.count
        return ResourceManifest(application: result.application, scope: result.scope.description, count: entries.count, pages: pages)
    }
}
