import FerryKube

/// Where an agent asks which blocks of an exposed CSI snapshot changed since the parent backup:
/// the driver's SnapshotMetadata service (from its `SnapshotMetadataService`, KEP-3314) and the
/// VolumeSnapshot being read. The agent authenticates with a token of its own ServiceAccount
/// for `audience`; nothing secret travels in the unit.
public struct CSIChangeSource: Sendable, Equatable {
    /// `host:port`.
    public var address: String
    /// Base64 PEM of the CA that signs the service's certificate (nil: the system roots).
    public var caCert: String?
    public var audience: String
    /// The VolumeSnapshot's namespace and name, and its CSI handle (the next delta's base).
    public var namespace: String
    public var snapshot: String
    public var snapshotHandle: String

    public init(address: String, caCert: String?, audience: String, namespace: String, snapshot: String, snapshotHandle: String) {
        self.address = address
        self.caCert = caCert
        self.audience = audience
        self.namespace = namespace
        self.snapshot = snapshot
        self.snapshotHandle = snapshotHandle
    }

    init?(_ json: JSONValue?) {
        guard let json, let address = json["address"]?.stringValue, let audience = json["audience"]?.stringValue,
              let namespace = json["namespace"]?.stringValue, let snapshot = json["snapshot"]?.stringValue,
              let handle = json["snapshotHandle"]?.stringValue else { return nil }
        self.init(address: address, caCert: json["caCert"]?.stringValue, audience: audience, namespace: namespace, snapshot: snapshot, snapshotHandle: handle)
    }

    var json: JSONValue {
        var value: JSONValue = [
            "address": .string(address), "audience": .string(audience), "namespace": .string(namespace),
            "snapshot": .string(snapshot), "snapshotHandle": .string(snapshotHandle),
        ]
        if let caCert { value["caCert"] = .string(caCert) }
        return value
    }
}
