import FerryApps
import FerryKube
import FerryRepo

/// Stores what discovery found into a write session: each object (in its captured form) as a
/// metadata chunk of canonical JSON, then the catalog pages that list them in restore order.
/// An object unchanged since an earlier backup has the same chunk id, so it is stored once. Each
/// catalog entry records the components the object belongs to (`ComponentMembership`).
///
/// `capture` turns the objects into their stored form as soon as discovery ends; a Backup
/// keeps that (a quarter of the parsed objects' memory) while its volumes are read, and stores
/// it when it commits.
public enum ResourceCapture {
    public static func store(_ result: DiscoveryResult, in session: WriteSession) async throws -> ResourceManifest {
        try await store(capture(result), in: session)
    }

    /// The objects of `result` as they will be stored, in restore order with their catalog entries.
    /// `membership`: `ComponentMembership.of(result)` when the caller has it already.
    public static func capture(
        _ result: DiscoveryResult, membership: [ObjectReference: Set<ApplicationComponent>]? = nil
    ) -> CapturedResources {
        let membership = membership ?? ComponentMembership.of(result)
        var objects: [CapturedResources.Object] = []
        for step in result.restorePlan {
            for component in step.components {
                let bytes = component.object.json.serialized()
                objects.append(
                    .init(
                        entry: ResourceEntry(
                            apiVersion: component.apiVersion, kind: component.reference.kind, resource: component.resource,
                            namespaced: component.namespaced, namespace: component.reference.namespace, name: component.reference.name,
                            phase: step.phase.identifier, reasons: component.reasons.sorted().map(\.description), object: "",
                            size: bytes.count, components: (membership[component.reference] ?? []).sorted()),
                        bytes: bytes))
            }
        }
        return CapturedResources(application: result.application, scope: result.scope.description, objects: objects)
    }

    public static func store(_ captured: CapturedResources, in session: WriteSession) async throws -> ResourceManifest {
        var entries: [ResourceEntry] = []
        entries.reserveCapacity(captured.objects.count)
        for object in captured.objects {
            var entry = object.entry
            entry.object = try await session.storeMetadata(object.bytes).hex
            entries.append(entry)
        }
        var pages: [ChunkID] = []
        var start = 0
        repeat {
            let page = ResourceCatalogPage(entries: Array(entries[start..<min(entries.count, start + ResourceManifest.entriesPerPage)]))
            pages.append(try await session.storeMetadata(try page.encode()))
            start += ResourceManifest.entriesPerPage
        } while start < entries.count
        return ResourceManifest(application: captured.application, scope: captured.scope, count: entries.count, pages: pages)
    }
}
