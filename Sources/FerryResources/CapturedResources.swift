import FerryRepo

/// Discovered objects in their stored form (canonical JSON), each with its catalog entry (the
/// chunk id is filled in when stored).
public struct CapturedResources: Sendable {
    public struct Object: Sendable {
        public var entry: ResourceEntry
        public var bytes: [UInt8]
    }

    public var application: String
    public var scope: String
    public var objects: [Object]
}
