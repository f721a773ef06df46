/// How a qcow2 image is opened.
public struct QCOW2Options: Sendable {
    /// Read the image even when a running QEMU holds it (or its data file) open for writing.
    /// The result is then not a point-in-time copy.
    public var force: Bool
    /// The external data file to use instead of the one the header names (relative names are
    /// resolved against the image's directory).
    public var dataFile: String?
    /// The deepest backing chain accepted, counting the image itself.
    public var maxChainDepth: Int
    /// Memory for cached L2 tables per image in the chain.
    public var l2CacheBytes: Int

    public init(force: Bool = false, dataFile: String? = nil, maxChainDepth: Int = 32, l2CacheBytes: Int = 32 << 20) {
        self.force = force
        self.dataFile = dataFile
        self.maxChainDepth = maxChainDepth
        self.l2CacheBytes = l2CacheBytes
    }
}
