/// Where each kind of object lives in a repository (design §3; docs/repository-format.md).
public enum ObjectName {
    public static let config = "config"
    public static let keysPrefix = "keys/"
    public static let packsPrefix = "packs/"
    public static let indexPrefix = "index/"
    public static let snapshotsPrefix = "snapshots/"
    public static let sessionsPrefix = "sessions/"
    public static let locksPrefix = "locks/"

    public static func key(_ id: String) -> String { keysPrefix + id }
    public static func pack(_ id: ChunkID) -> String {
        let hex = id.hex
        return packsPrefix + hex.prefix(2) + "/" + hex
    }
    public static func index(_ id: ChunkID) -> String { indexPrefix + id.hex }
    public static func snapshot(_ id: ChunkID) -> String { snapshotsPrefix + id.hex }
    public static func session(_ id: String) -> String { sessionsPrefix + id }

    /// The id in a `packs/xx/<id>`, `index/<id>` or `snapshots/<id>` name, or nil if the name is not one.
    public static func id(in name: String) -> ChunkID? {
        guard let slash = name.lastIndex(of: "/") else { return nil }
        return ChunkID(hex: name[name.index(after: slash)...])
    }
}
