import ArgumentParser
import FerryCSI
import FerryMover
import FerryRepo
import FerryVolume
import Foundation

/// How `ferry backup` reads its source (`--format`) and decides what changed since the parent
/// (`--cbt` and the CSI SnapshotMetadata options).
struct ChangeTrackingOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("Source format: auto (by its first bytes), raw or qcow2.", valueName: "auto|raw|qcow2"))
    var format = "auto"

    @Option(
        name: .long,
        help: ArgumentHelp(
            "Change tracking: auto, none, hash (compare every block with the parent), qcow2-bitmap[:NAME] or csi.",
            valueName: "mode"))
    var cbt = "auto"

    @Option(name: .long, help: ArgumentHelp("Spot-check at least this many blocks the tracker calls unchanged.", valueName: "blocks"))
    var cbtSampleMin: Int64 = CBTSample.standard.minimumBlocks

    @Option(name: .long, help: ArgumentHelp("And at least this fraction of them (0...1).", valueName: "fraction"))
    var cbtSampleFraction: Double = CBTSample.standard.fraction

    @Flag(name: .long, help: "Compare every block and report each one the change tracker missed.")
    var verifyCbt = false

    @Option(
        name: .long,
        help: ArgumentHelp("CSI SnapshotMetadata service address (a SnapshotMetadataService's spec.address).", valueName: "host:port"))
    var csiEndpoint: String?

    @Option(
        name: .long,
        help: ArgumentHelp("PEM file of the CA that signs the service's certificate (default: system roots).", valueName: "file"))
    var csiCa: String?

    @Option(name: .long, help: ArgumentHelp("File holding the audience-scoped security token.", valueName: "file"))
    var csiTokenFile: String?

    @Option(name: .long, help: ArgumentHelp("Namespace of the VolumeSnapshot.", valueName: "namespace"))
    var csiNamespace: String?

    @Option(name: .long, help: ArgumentHelp("The VolumeSnapshot being backed up.", valueName: "name"))
    var csiSnapshot: String?

    @Option(name: .long, help: ArgumentHelp("Its CSI snapshot handle (recorded as the base of the next delta).", valueName: "handle"))
    var csiSnapshotHandle: String?

    var sample: CBTSample { CBTSample(minimumBlocks: cbtSampleMin, fraction: cbtSampleFraction) }

    func validate() throws {
        guard ImageFormat(rawValue: format) != nil else { throw ValidationError("--format must be auto, raw or qcow2") }
        do { _ = try CBTMode(parsing: cbt) } catch { throw ValidationError(error.description) }
        guard (0...1).contains(cbtSampleFraction), cbtSampleMin >= 0 else {
            throw ValidationError("--cbt-sample-fraction must be between 0 and 1 and --cbt-sample-min at least 0")
        }
    }

    /// Opens the source in the chosen format.
    func open(_ path: String, force: Bool) throws -> any BlockSource {
        try (ImageFormat(rawValue: format) ?? .auto).open(path: path, force: force)
    }

    /// The tracker for `--cbt`, given the source and the parent; nil means compare every block.
    func tracker(for source: any BlockSource, parent: Snapshot?) throws -> (any ChangeTracker)? {
        let mode = try CBTMode(parsing: cbt)
        let csi = mode == .csi || (mode == .auto && csiEndpoint != nil) ? ChangeTrackerSelection.CSISource.tracker(try csiTracker()) : nil
        return try ChangeTrackerSelection.tracker(mode, source: source, parent: parent?.manifest.volumes.first, csi: csi)
    }

    private func csiTracker() throws -> CSIChangeTracker {
        guard let csiEndpoint, let csiTokenFile, let csiNamespace, let csiSnapshot, let csiSnapshotHandle else {
            throw ValidationError(
                "--cbt csi needs --csi-endpoint, --csi-token-file, --csi-namespace, --csi-snapshot and --csi-snapshot-handle")
        }
        var endpoint = try SnapshotMetadataEndpoint(address: csiEndpoint, caCertBase64: nil)
        if let csiCa {
            guard let pem = FileManager.default.contents(atPath: csiCa) else { throw ValidationError("cannot read --csi-ca \(csiCa)") }
            endpoint.caCertificatePEM = [UInt8](pem)
        }
        guard let token = FileManager.default.contents(atPath: csiTokenFile) else {
            throw ValidationError("cannot read --csi-token-file \(csiTokenFile)")
        }
        let client = SnapshotMetadataClient(
            endpoint: endpoint, securityToken: String(decoding: token, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines),
            namespace: csiNamespace)
        return CSIChangeTracker(client: client, snapshotName: csiSnapshot, snapshotHandle: csiSnapshotHandle)
    }
}
