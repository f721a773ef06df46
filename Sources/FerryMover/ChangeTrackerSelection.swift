import FerryCSI
import FerryRepo
import FerryVolume

/// Which change tracker a backup uses, chosen in one place for the CLI (`--cbt`) and the agent:
/// none for `none`/`hash`; a qcow2 image's persistent dirty bitmap (the named one, the one the
/// parent recorded, or the only enabled one); the CSI driver's SnapshotMetadata service when
/// one is given; for `auto` the CSI service if given, else a qcow2 bitmap if there is a usable
/// one, else none (every block is compared with the parent).
public enum ChangeTrackerSelection {
    /// A CSI SnapshotMetadata tracker, or why none could be set up (the backup then compares
    /// every block and records the reason).
    public enum CSISource: Sendable {
        case tracker(CSIChangeTracker)
        case unusable(reason: String)
    }

    public static func tracker(_ mode: CBTMode, source: any BlockSource, parent: VolumeManifest?, csi: CSISource?) throws -> (
        any ChangeTracker
    )? {
        let record = parent?.changeTracking
        let bookmark = record?.bookmarkProvider.map { CBTBookmark(provider: $0, fields: record?.bookmark ?? [:]) }
        switch mode {
        case .none, .hash:
            return nil
        case let .qcow2Bitmap(name):
            guard let image = source as? QCOW2BlockSource else { throw ChangeTrackingError.needsQCOW2 }
            return try QCOW2BitmapTracker.choose(source: image, name: name, parent: bookmark)
        case .csi:
            guard let csi else { throw ChangeTrackingError.needsCSIService }
            return tracker(csi)
        case .auto:
            if let csi { return tracker(csi) }
            if let image = source as? QCOW2BlockSource {
                return try? QCOW2BitmapTracker.choose(source: image, name: nil, parent: bookmark)
            }
            return nil
        }
    }

    private static func tracker(_ csi: CSISource) -> any ChangeTracker {
        switch csi {
        case .tracker(let tracker): return tracker
        case .unusable(let reason): return UnusableTracker(provider: CSIChangeTracker.providerName, reason: reason)
        }
    }

    /// A change tracking mode that the source or the options cannot serve.
    public enum ChangeTrackingError: Error, CustomStringConvertible {
        case needsQCOW2
        case needsCSIService

        public var description: String {
            switch self {
            case .needsQCOW2: "--cbt qcow2-bitmap needs a qcow2 source"
            case .needsCSIService:
                "--cbt csi needs --csi-endpoint, --csi-token-file, --csi-namespace, --csi-snapshot and --csi-snapshot-handle"
            }
        }
    }
}
