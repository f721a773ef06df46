import FerryKube
import FerryRepo

/// An application snapshot's captured objects as files: `<namespace>/<resource>[.<group>]/<name>.yaml`
/// (cluster-scoped objects under `_cluster`, which no namespace can be called), and `all.yaml`
/// with every object in restore order. Read from the repository when the directory is first
/// opened; every object chunk is verified like any other.
enum ResourceFiles {
    static func entries(_ resources: ResourceManifest, repository: Repository) async throws -> [MountEntry] {
        let entries = try await repository.resourceEntries(resources)
        let ids = try entries.map { try $0.objectID() }
        let objects = try await repository.readChunks(ids, context: "captured objects")
        var builder = DirectoryBuilder()
        var documents: [JSONValue] = []
        for (entry, id) in zip(entries, ids) {
            guard let bytes = objects[id] else { throw RepositoryError.missingChunk(id: id, context: "\(entry.kind) \(entry.name)") }
            let object: JSONValue
            do {
                object = try JSONValue(parsing: bytes)
            } catch {
                throw RepositoryError.corruptObject(name: "captured \(entry.kind) \(entry.name)", detail: "\(error)")
            }
            documents.append(object)
            let scope = entry.namespaced ? (entry.namespace ?? "_") : "_cluster"
            let slash = entry.apiVersion.firstIndex(of: "/")
            let group = slash.map { "." + entry.apiVersion[..<$0] } ?? ""
            builder.add([scope, entry.resource + group, entry.name + ".yaml"], .file(Array(try ObjectYAML.render(object).utf8)))
        }
        builder.add(["all.yaml"], .file(Array(try ObjectYAML.render(documents: documents).utf8)))
        return builder.entries
    }
}
