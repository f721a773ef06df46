import Foundation

/// The Kubernetes objects a snapshot captured (an application's manifests), as the manifest
/// records them: how many, and the catalog pages that list them. Each object is its own
/// metadata chunk (canonical JSON), so an object unchanged since the last backup is stored once.
public struct ResourceManifest: Codable, Sendable, Equatable {
    /// What was captured, in words ("Helm release web").
    public var application: String
    /// Where discovery looked ("namespace shop").
    public var scope: String
    /// Number of objects.
    public var count: Int
    /// Chunk ids (hex) of the catalog pages, in order.
    public var pages: [ChunkID]

    public init(application: String, scope: String, count: Int, pages: [ChunkID]) {
        self.application = application
        self.scope = scope
        self.count = count
        self.pages = pages
    }

    /// Most entries one catalog page holds (a page is a metadata chunk of a few hundred KiB).
    public static let entriesPerPage = 1000

    /// The chunk id of catalog page `page`.
    public func pageID(_ page: Int) throws -> ChunkID {
        guard page < pages.count else {
            throw RepositoryError.corruptObject(name: "resource catalog", detail: "page \(page) missing")
        }
        return pages[page]
    }
}

/// One page of a snapshot's resource catalog: a metadata chunk holding JSON
/// `{"entries": [...]}`.
public struct ResourceCatalogPage: Codable, Sendable, Equatable {
    public var entries: [ResourceEntry]

    public init(entries: [ResourceEntry]) {
        self.entries = entries
    }

    public func encode() throws -> [UInt8] {
        try [UInt8](Repository.encoder.encode(self))
    }

    public static func decode(_ bytes: [UInt8], name: String) throws -> ResourceCatalogPage {
        do {
            return try Repository.decoder.decode(ResourceCatalogPage.self, from: Data(bytes))
        } catch {
            throw RepositoryError.corruptObject(name: name, detail: "not a resource catalog page: \(error)")
        }
    }
}

/// One captured object: what it is, where it goes back, in which restore phase, why it was
/// captured, and the chunk holding its JSON.
public struct ResourceEntry: Codable, Sendable, Equatable {
    public var apiVersion: String
    public var kind: String
    /// The plural resource name (`deployments`).
    public var resource: String
    public var namespaced: Bool
    public var namespace: String?
    public var name: String
    /// The restore phase's identifier (`crds`, `namespaces`, ..., `virtualMachines`).
    public var phase: String
    /// Why discovery included it (for people).
    public var reasons: [String]
    /// Hex id of the chunk holding the object's JSON.
    public var object: String
    /// Size of the object's JSON in bytes.
    public var size: Int
    /// The named components (Helm releases, VirtualMachines, claims) the object belongs to, as
    /// discovery tied them together; empty for an object of none. Nil in a snapshot written
    /// before Ferry recorded them: such a snapshot restores whole, and cannot be restored by
    /// component.
    public var components: [ApplicationComponent]?

    public init(
        apiVersion: String, kind: String, resource: String, namespaced: Bool, namespace: String?, name: String, phase: String,
        reasons: [String], object: String, size: Int, components: [ApplicationComponent]? = nil
    ) {
        self.components = components
        self.apiVersion = apiVersion
        self.kind = kind
        self.resource = resource
        self.namespaced = namespaced
        self.namespace = namespace
        self.name = name
        self.phase = phase
        self.reasons = reasons
        self.object = object
        self.size = size
    }

    /// The object chunk's id.
    public func objectID() throws -> ChunkID {
        guard let id = ChunkID(hex: object) else {
            throw RepositoryError.corruptObject(name: "resource catalog", detail: "\(kind) \(name) has a malformed object id")
        }
        return id
    }
}

extension Repository {
    /// Page `page` of a snapshot's resource catalog.
    public func resourceCatalogPage(_ resources: ResourceManifest, page: Int) async throws -> ResourceCatalogPage {
        let id = try resources.pageID(page)
        return try ResourceCatalogPage.decode(
            try await readChunk(id, context: "resource catalog"), name: "resource catalog page \(id.short)")
    }

    /// Every entry of a snapshot's resource catalog, in catalog order.
    public func resourceEntries(_ resources: ResourceManifest) async throws -> [ResourceEntry] {
        var entries: [ResourceEntry] = []
        for page in resources.pages.indices { entries += try await resourceCatalogPage(resources, page: page).entries }
        guard entries.count == resources.count else {
            throw RepositoryError.corruptObject(
                name: "resource catalog", detail: "it lists \(entries.count) objects, the manifest says \(resources.count)")
        }
        return entries
    }
}
