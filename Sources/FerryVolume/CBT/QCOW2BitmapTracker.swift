import FerrySystem

#if canImport(Glibc)
    import Glibc
#endif

/// Changed-block tracking from a qcow2 persistent dirty bitmap: the named bitmap of the image,
/// combined (union) with the same-named bitmap of every image below it in the backing chain. It
/// works the same for a KubeVirt-style overlay whose guest data lives in a raw data file.
///
/// Trust rules (design §4): changes are reported only when the parent's bookmark recorded the
/// bitmap enabled and consistent, and it still is in every layer now — present, enabled
/// (`auto`), not `in_use`, in an extension QEMU kept consistent. A bitmap with fewer dirty bytes
/// than the parent saw, or missing a dirty granule the parent saw, was cleared or recreated and is
/// refused. A data file modified after its overlay last stored the bitmaps was written behind
/// QEMU's back and is refused too. Every refusal says why and means "compare everything".
public struct QCOW2BitmapTracker: ChangeTracker {
    public static let providerName = "qcow2-bitmap"
    public var provider: String { Self.providerName }

    public let source: QCOW2BlockSource
    public let bitmapName: String

    /// How many dirty offsets a bookmark records as witnesses of the bitmap's past content.
    static let witnessCount = 16

    public init(source: QCOW2BlockSource, bitmapName: String) {
        self.source = source
        self.bitmapName = bitmapName
    }

    /// The tracker for `--cbt qcow2-bitmap[:NAME]`: the named bitmap, else the one the parent
    /// recorded, else the top image's only enabled bitmap. Throws when no bitmap can be chosen.
    public static func choose(source: QCOW2BlockSource, name: String?, parent: CBTBookmark?) throws -> QCOW2BitmapTracker {
        if let name { return QCOW2BitmapTracker(source: source, bitmapName: name) }
        if let parent, parent.provider == providerName, let recorded = parent["bitmap"] {
            return QCOW2BitmapTracker(source: source, bitmapName: recorded)
        }
        let bitmaps = try source.bitmaps()
        let enabled = bitmaps.filter(\.enabled)
        guard enabled.count == 1 else {
            let names = bitmaps.map(\.name)
            throw VolumeError.unsupported(
                path: source.path,
                detail: names.isEmpty
                    ? "it has no persistent bitmaps (add one with qemu-img bitmap --add)"
                    : "name the bitmap to track with --cbt qcow2-bitmap:NAME (it has \(names.joined(separator: ", ")))")
        }
        return QCOW2BitmapTracker(source: source, bitmapName: enabled[0].name)
    }

    /// The bitmap's state across the chain now.
    public struct Inspection: Sendable {
        /// Present and enabled in every layer.
        public var enabled: Bool
        /// Present, saved cleanly, well-formed and not bypassed in every layer.
        public var consistent: Bool
        /// The first reason the bitmap cannot be trusted, if any.
        public var problem: String?
        /// The union of the layers' dirty ranges (empty when a layer could not be read).
        public var dirty: BlockRangeList
        /// The top layer's granularity (0 when it has no such bitmap).
        public var granularity: Int64
    }

    public func inspect() -> Inspection {
        var result = Inspection(enabled: true, consistent: true, problem: nil, dirty: BlockRangeList(), granularity: 0)
        func fail(_ problem: String, inconsistent: Bool = true, disabled: Bool = false) {
            if result.problem == nil { result.problem = problem }
            if inconsistent { result.consistent = false }
            if disabled { result.enabled = false }
        }
        for (depth, layer) in source.chain.enumerated() {
            let name = depth == 0 ? layer.path : "backing image \(layer.path)"
            let bitmaps: [QCOW2Bitmap]
            do { bitmaps = try layer.bitmaps() } catch {
                fail("\(error)")
                continue
            }
            guard let bitmap = bitmaps.first(where: { $0.name == bitmapName }) else {
                fail("\(name) has no bitmap \"\(bitmapName)\", so writes to it were not tracked", disabled: true)
                continue
            }
            if depth == 0 { result.granularity = bitmap.granularity }
            if !layer.header.bitmapsConsistent {
                fail("\(name)'s bitmaps were last written by software that does not maintain them (the autoclear consistency bit is clear)")
            }
            if bitmap.inUse {
                fail(
                    layer.lockState == .free
                        ? """
                        bitmap \"\(bitmapName)\" of \(name) is marked in_use but no QEMU holds the image: \
                        it was not closed cleanly (a crash?), so the bitmap may have missed writes
                        """
                        : "bitmap \"\(bitmapName)\" of \(name) is in use by a running QEMU and not yet saved")
            }
            if !bitmap.enabled {
                fail(
                    "bitmap \"\(bitmapName)\" of \(name) is disabled: writes made while it was disabled were not recorded",
                    inconsistent: false, disabled: true)
            }
            if bitmap.extraDataSize > 0, !bitmap.extraDataCompatible {
                fail("bitmap \"\(bitmapName)\" of \(name) carries extra data that must not be ignored")
            }
            if let dataFile = layer.dataFilePath, let dataTime = Self.modificationTime(dataFile),
                let imageTime = Self.modificationTime(layer.path),
                dataTime > imageTime
            {
                // Not recorded as inconsistent: the full compare this forces covers the write,
                // and the bitmap tracks what QEMU writes after it.
                fail(
                    """
                    the data file \(dataFile) was modified after \(name) last stored its bitmaps: \
                    a write that bypassed QEMU is not in the bitmap
                    """,
                    inconsistent: false)
            }
            do {
                result.dirty = result.dirty.union(try layer.dirtyRanges(of: bitmap))
            } catch {
                fail("\(error)")
            }
        }
        return result
    }

    public func changes(since bookmark: CBTBookmark, size: Int64) async throws -> CBTChanges {
        guard bookmark.provider == Self.providerName, bookmark["bitmap"] == bitmapName else {
            return .unusable(
                reason: "the parent backup recorded no qcow2 bitmap named \"\(bitmapName)\" (its change tracking was \(bookmark.provider))")
        }
        guard bookmark["enabled"] == "true" else {
            return .unusable(reason: "bitmap \"\(bitmapName)\" was disabled or missing when the parent backup was taken")
        }
        guard bookmark["consistent"] == "true" else {
            return .unusable(
                reason:
                    """
                    bitmap \"\(bitmapName)\" was not consistent \
                    when the parent backup was taken\(bookmark["problem"].map { " (\($0))" } ?? "")
                    """
            )
        }
        guard size == source.size else {
            return .unusable(reason: "the disk changed size since the parent backup")
        }
        let now = inspect()
        if let problem = now.problem { return .unusable(reason: problem) }
        if let recorded = bookmark["granularity"].flatMap(Int64.init), recorded != now.granularity {
            return .unusable(
                reason: "bitmap \"\(bitmapName)\" was recreated since the parent backup (granularity \(recorded) is now \(now.granularity))"
            )
        }
        let dirtyBytes = now.dirty.byteCount
        if let recorded = bookmark["dirtyBytes"].flatMap(Int64.init), dirtyBytes < recorded {
            return .unusable(
                reason:
                    """
                    bitmap \"\(bitmapName)\" marks \(dirtyBytes) bytes dirty, \
                    fewer than the \(recorded) it marked at the parent backup: it was cleared or recreated since
                    """
            )
        }
        for witness in (bookmark["witnesses"] ?? "").split(separator: ",").compactMap({ Int64($0) }) where !now.dirty.contains(witness) {
            return .unusable(
                reason:
                    """
                    bitmap \"\(bitmapName)\" no longer marks offset \(witness), \
                    which it marked at the parent backup: it was cleared or recreated since
                    """
            )
        }
        return .changed(now.dirty.ranges)
    }

    public func allocatedRanges(size: Int64) async throws -> [Range<Int64>]? {
        try source.dataRanges(in: 0..<size)
    }

    public func currentBookmark() async throws -> CBTBookmark? {
        let now = inspect()
        var fields = [
            "bitmap": bitmapName,
            "enabled": String(now.enabled),
            "consistent": String(now.consistent),
            "granularity": String(now.granularity),
            "dirtyBytes": String(now.dirty.byteCount),
            "layers": String(source.chain.count),
        ]
        let ranges = now.dirty.ranges
        if !ranges.isEmpty {
            let step = max(1, ranges.count / Self.witnessCount)
            fields["witnesses"] = stride(from: 0, to: ranges.count, by: step).prefix(Self.witnessCount)
                .map { String(ranges[$0].lowerBound) }.joined(separator: ",")
        }
        if let problem = now.problem { fields["problem"] = problem }
        return CBTBookmark(provider: Self.providerName, fields: fields)
    }

    /// Modification time as (seconds, nanoseconds).
    static func modificationTime(_ path: String) -> (Int, Int)? {
        var st = stat()
        guard stat(path, &st) == 0 else { return nil }
        return (Int(st.st_mtim.tv_sec), Int(st.st_mtim.tv_nsec))
    }
}
