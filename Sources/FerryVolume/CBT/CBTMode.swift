/// The change-tracking provider asked for with `--cbt auto|none|hash|qcow2-bitmap[:NAME]|csi`.
public enum CBTMode: Sendable, Equatable, CustomStringConvertible {
    /// The best provider the source offers: the parent's provider when it can still vouch,
    /// otherwise the full compare.
    case auto
    /// No change tracker: every allocated block is read and compared with the parent's block map
    /// (what `hash` does; holes are still skipped).
    case none
    /// Read every allocated block and compare its hash with the parent's block map (always correct).
    case hash
    /// A qcow2 persistent dirty bitmap: the named one, or (nil) the one the parent recorded or the
    /// image's only enabled bitmap.
    case qcow2Bitmap(name: String?)
    /// CSI SnapshotMetadata (KEP-3314).
    case csi

    public init(parsing text: String) throws(CBTModeError) {
        switch text {
        case "auto": self = .auto
        case "none": self = .none
        case "hash": self = .hash
        case "csi": self = .csi
        case "qcow2-bitmap": self = .qcow2Bitmap(name: nil)
        default:
            guard text.hasPrefix("qcow2-bitmap:"), text.count > "qcow2-bitmap:".count else { throw CBTModeError(text: text) }
            self = .qcow2Bitmap(name: String(text.dropFirst("qcow2-bitmap:".count)))
        }
    }

    public var description: String {
        switch self {
        case .auto: "auto"
        case .none: "none"
        case .hash: "hash"
        case .csi: "csi"
        case let .qcow2Bitmap(name): name.map { "qcow2-bitmap:\($0)" } ?? "qcow2-bitmap"
        }
    }
}

/// An unknown `--cbt` value.
public struct CBTModeError: Error, Sendable, CustomStringConvertible {
    public var text: String
    public var description: String {
        "unknown change tracking mode \"\(text)\": use auto, none, hash, qcow2-bitmap[:NAME] or csi"
    }
}
