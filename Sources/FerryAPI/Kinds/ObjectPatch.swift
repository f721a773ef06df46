import FerryKube

/// A JSON patch (RFC 6902) for the objects a pattern matches: e.g. every Deployment named web
/// gets `replace /spec/replicas 1`. An operation that does not apply (a `test` that fails, a path
/// that is not there) fails the Restore, naming the object and the operation; so does a patch
/// that changes an object's kind, namespace or name (`namespaceMapping` moves objects).
public struct ObjectPatch: Codable, Sendable, Equatable {
    /// Which objects: a kind, and optionally its group, the namespace they were backed up in,
    /// and a name.
    public var match: ObjectPattern
    /// The operations, applied in order.
    public var patch: [JSONPatchOperation]

    public init(match: ObjectPattern, patch: [JSONPatchOperation]) {
        self.match = match
        self.patch = patch
    }
}
