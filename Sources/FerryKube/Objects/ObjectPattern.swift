/// Objects of a kind (in any group, or in the one given), optionally only in one namespace or
/// of one name: what a BackupPlan's `exclude` names.
public struct ObjectPattern: Codable, Sendable, Hashable, CustomStringConvertible {
    public var kind: String
    /// nil: the kind in any group ("" is the core group).
    public var group: String?
    public var namespace: String?
    public var name: String?

    public init(kind: String, group: String? = nil, namespace: String? = nil, name: String? = nil) {
        self.kind = kind
        self.group = group
        self.namespace = namespace
        self.name = name
    }

    public func matches(_ reference: ObjectReference) -> Bool {
        reference.kind == kind && (group.map { $0 == reference.group } ?? true)
            && (namespace.map { $0 == reference.namespace } ?? true) && (name.map { $0 == reference.name } ?? true)
    }

    public var description: String {
        let type = group.map { $0.isEmpty ? kind : "\(kind).\($0)" } ?? kind
        switch (namespace, name) {
        case (let namespace?, let name?): return "\(type) \(namespace)/\(name)"
        case (nil, let name?): return "\(type) \(name)"
        case (let namespace?, nil): return "\(type) in namespace \(namespace)"
        case (nil, nil): return type
        }
    }
}
