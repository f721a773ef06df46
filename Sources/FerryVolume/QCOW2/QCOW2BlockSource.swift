import FerrySystem

#if canImport(Glibc)
    import Glibc
#endif

/// The guest-visible disk of a qcow2 image (v2 or v3): clusters found through the L1/L2 tables
/// (extended L2 subclusters included), zero clusters, deflate or zstd compressed clusters, an
/// external data file (read directly as a raw image when `data_file_raw` is set), and the
/// backing chain below it for what the image leaves unallocated.
///
/// Opening refuses an image (or its data file) that a running QEMU holds for writing unless
/// `QCOW2Options.force` is set. Reads are thread-safe; decoded L2 tables are cached up to
/// `QCOW2Options.l2CacheBytes`. Every offset taken from the image is checked before use, and a
/// damaged image fails with a `QCOW2Error` naming the structure at fault.
public final class QCOW2BlockSource: BlockSource {
    /// The image file.
    public let path: String
    public let header: QCOW2Header
    public var size: Int64 { header.size }
    public var description: String { path }
    /// Who held the image when it was opened (QEMU's OFD locks).
    public let lockState: QEMULockState
    /// The resolved external data file, if the image has one.
    public let dataFilePath: String?
    /// Who held the external data file when it was opened.
    public let dataFileLockState: QEMULockState?
    /// The image below this one in the chain: a `QCOW2BlockSource` or a `RawBlockSource`.
    public let backing: (any BlockSource)?

    let file: File
    let fileSize: Int64
    private let dataFile: File?
    private let dataFileSize: Int64
    /// The data file as a raw disk, when `data_file_raw` lets it be read without the L2 tables.
    private let rawData: RawBlockSource?
    private let rawBacking: RawBlockSource?
    private let l1: [UInt64]
    private let cache: L2TableCache

    private static let offsetMask: UInt64 = 0x00FF_FFFF_FFFF_FE00
    private static let compressedFlag: UInt64 = 1 << 62
    private static let copiedFlag: UInt64 = 1 << 63
    private static let zeroFlag: UInt64 = 1

    /// Opens the image at `path` and its backing chain.
    public convenience init(path: String, options: QCOW2Options = QCOW2Options()) throws {
        var chain = ChainState()
        try self.init(path: path, options: options, chain: &chain)
    }

    struct ChainState {
        var seen: [FileIdentity: String] = [:]
        var depth = 0
    }

    struct FileIdentity: Hashable {
        var device: UInt64
        var inode: UInt64
    }

    init(path: String, options: QCOW2Options, chain: inout ChainState) throws {
        self.path = path
        chain.depth += 1
        guard chain.depth <= options.maxChainDepth else {
            throw QCOW2Error.backingChainTooDeep(path: path, limit: options.maxChainDepth)
        }
        let file: File
        do { file = try File.open(path, flags: O_RDONLY) } catch {
            throw VolumeError.unreadable(path: path, detail: String(cString: strerror(error.code)))
        }
        var opened: [File] = [file]
        var openedRaw: [RawBlockSource] = []
        func closeAll() {
            opened.forEach { $0.close() }
            openedRaw.forEach { $0.close() }
        }
        do {
            let identity = try Self.identity(of: file)
            if let earlier = chain.seen[identity] {
                throw QCOW2Error.backingChainLoop(path: path, repeated: earlier)
            }
            chain.seen[identity] = path
            fileSize = try Self.size(of: file)
            lockState = QEMULockProbe.state(of: file.descriptor)
            if lockState == .writer, !options.force {
                throw VolumeError.busy(path: path, detail: "a running QEMU holds it open for writing")
            }
            let header = try QCOW2Header.read(from: file, fileSize: fileSize)
            self.header = header

            // The L1 table is at most 32 MiB (checked by the header) and lies inside the file.
            if header.l1Size > 0 {
                let bytes = try readBytes(file, at: header.l1TableOffset, count: header.l1Size * 8)
                guard bytes.count == header.l1Size * 8 else {
                    throw QCOW2Error.truncated(
                        path: path, structure: "L1 table", needed: header.l1TableOffset + Int64(header.l1Size * 8), fileSize: fileSize)
                }
                l1 = bytes.withUnsafeBytes(decodeBigEndianTable)
            } else {
                l1 = []
            }
            cache = L2TableCache(capacity: options.l2CacheBytes / header.clusterSize)

            // External data file.
            if header.hasExternalDataFile {
                guard let name = chain.depth == 1 ? (options.dataFile ?? header.dataFile) : header.dataFile else {
                    throw QCOW2Error.invalidHeader(
                        path: path, field: "incompatible_features",
                        detail: "the image keeps its data in an external file but does not name it")
                }
                let resolved = Self.resolve(name, relativeTo: path)
                dataFilePath = resolved
                if header.dataFileIsRaw {
                    let raw: RawBlockSource
                    do { raw = try RawBlockSource(path: resolved, force: options.force) } catch let error as VolumeError {
                        if case .busy = error { throw error }
                        throw QCOW2Error.missingFile(path: path, role: "data file", file: resolved, detail: "\(error)")
                    }
                    openedRaw.append(raw)
                    rawData = raw
                    dataFile = nil
                    dataFileSize = raw.size
                    dataFileLockState = try Self.lockState(ofFileAt: resolved)
                } else {
                    let data: File
                    do { data = try File.open(resolved, flags: O_RDONLY) } catch {
                        throw QCOW2Error.missingFile(
                            path: path, role: "data file", file: resolved, detail: String(cString: strerror(error.code)))
                    }
                    opened.append(data)
                    dataFile = data
                    rawData = nil
                    dataFileSize = try Self.size(of: data)
                    dataFileLockState = QEMULockProbe.state(of: data.descriptor)
                }
                if dataFileLockState == .writer, !options.force {
                    throw VolumeError.busy(path: resolved, detail: "a running QEMU holds this data file of \(path) open for writing")
                }
            } else {
                dataFilePath = nil
                dataFile = nil
                rawData = nil
                dataFileSize = 0
                dataFileLockState = nil
            }

            // Backing chain.
            if let name = header.backingFile {
                let resolved = Self.resolve(name, relativeTo: path)
                let identity: FileIdentity
                do { identity = try Self.identity(ofFileAt: resolved) } catch {
                    throw QCOW2Error.missingFile(path: path, role: "backing file", file: resolved, detail: "\(error)")
                }
                if let earlier = chain.seen[identity] {
                    throw QCOW2Error.backingChainLoop(path: path, repeated: earlier)
                }
                let format = try Self.backingFormat(header.backingFormat, of: resolved, image: path)
                do {
                    switch format {
                    case .qcow2:
                        backing = try QCOW2BlockSource(path: resolved, options: options, chain: &chain)
                        rawBacking = nil
                    default:
                        chain.seen[identity] = resolved
                        let raw = try RawBlockSource(path: resolved, force: true)
                        openedRaw.append(raw)
                        backing = raw
                        rawBacking = raw
                    }
                } catch let error as VolumeError {
                    guard case let .unreadable(_, detail) = error else { throw error }
                    throw QCOW2Error.missingFile(path: path, role: "backing file", file: resolved, detail: detail)
                }
            } else {
                backing = nil
                rawBacking = nil
            }
        } catch {
            closeAll()
            throw error
        }
        self.file = file
    }

    deinit {
        file.close()
        dataFile?.close()
        rawData?.close()
        rawBacking?.close()
    }

    /// This image and the qcow2 images below it, top first.
    public var chain: [QCOW2BlockSource] {
        var layers = [self]
        while let next = layers.last?.backing as? QCOW2BlockSource { layers.append(next) }
        return layers
    }

    // MARK: Reading

    public func read(at offset: Int64, into buffer: UnsafeMutableRawBufferPointer) throws {
        guard !buffer.isEmpty else { return }
        guard offset >= 0, offset + Int64(buffer.count) <= size else {
            throw VolumeError.unsupported(path: path, detail: "read of \(buffer.count) bytes at \(offset) is outside the \(size)-byte disk")
        }
        if let rawData {
            try readClamped(rawData, at: offset, into: buffer)
            return
        }
        var done = 0
        while done < buffer.count {
            let guest = offset + Int64(done)
            let extent = try self.extent(at: guest, limit: buffer.count - done)
            let slice = UnsafeMutableRawBufferPointer(rebasing: buffer[done..<(done + extent.length)])
            switch extent.kind {
            case .zero:
                slice.initializeMemory(as: UInt8.self, repeating: 0)
            case .backing:
                if let backing {
                    try readClamped(backing, at: guest, into: slice)
                } else {
                    slice.initializeMemory(as: UInt8.self, repeating: 0)
                }
            case let .data(host):
                try readData(at: host, into: slice)
            case let .compressed(entry):
                try readCompressed(entry, guest: guest, into: slice)
            }
            done += extent.length
        }
    }

    public func dataRanges(in range: Range<Int64>) throws -> [Range<Int64>] {
        let range = max(0, range.lowerBound)..<min(size, range.upperBound)
        guard !range.isEmpty else { return [] }
        if let rawData {
            let end = min(range.upperBound, rawData.size)
            var ranges = end > range.lowerBound ? try rawData.dataRanges(in: range.lowerBound..<end) : []
            // A data file shorter than the disk reads as zeros beyond its end.
            ranges.removeAll { $0.isEmpty }
            return ranges
        }
        var ranges = BlockRangeList()
        var position = range.lowerBound
        while position < range.upperBound {
            let extent = try self.extent(at: position, limit: Int(min(range.upperBound - position, 1 << 40)))
            let end = position + Int64(extent.length)
            switch extent.kind {
            case .zero:
                break
            case .data, .compressed:
                ranges.append(position..<end)
            case .backing:
                if let backing, position < backing.size {
                    for part in try backing.dataRanges(in: position..<min(end, backing.size)) { ranges.append(part) }
                }
            }
            position = end
        }
        return ranges.ranges
    }

    /// Reads `buffer.count` bytes of `source` at `offset`, zeros where `source` is shorter.
    private func readClamped(_ source: any BlockSource, at offset: Int64, into buffer: UnsafeMutableRawBufferPointer) throws {
        let available = max(0, min(Int64(buffer.count), source.size - offset))
        if available > 0 {
            try source.read(at: offset, into: UnsafeMutableRawBufferPointer(rebasing: buffer[0..<Int(available)]))
        }
        if available < buffer.count {
            UnsafeMutableRawBufferPointer(rebasing: buffer[Int(available)...]).initializeMemory(as: UInt8.self, repeating: 0)
        }
    }

    /// Reads guest data stored at `host` in the image file or the external data file. Data beyond
    /// the end of an external data file reads as zeros (it has not been written yet).
    private func readData(at host: Int64, into buffer: UnsafeMutableRawBufferPointer) throws {
        let storage = dataFile ?? file
        let storageSize = dataFile == nil ? fileSize : dataFileSize
        let expected = Int(max(0, min(Int64(buffer.count), storageSize - host)))
        let n: Int
        do { n = try storage.read(at: host, into: buffer) } catch { throw VolumeError.io(error) }
        if n < expected {
            throw VolumeError.sourceShrank(path: storage.path, expected: storageSize, actual: host + Int64(n))
        }
        if n < buffer.count {
            UnsafeMutableRawBufferPointer(rebasing: buffer[n...]).initializeMemory(as: UInt8.self, repeating: 0)
        }
    }

    private func readCompressed(_ entry: UInt64, guest: Int64, into buffer: UnsafeMutableRawBufferPointer) throws {
        let clusterBits = header.clusterBits
        let shift = 62 - (clusterBits - 8)
        let hostOffset = Int64(entry & ((1 << UInt64(shift)) - 1))
        let sectors = Int((entry >> UInt64(shift)) & ((1 << UInt64(clusterBits - 8)) - 1)) + 1
        let compressedSize = sectors * 512 - Int(hostOffset & 511)
        let clusterStart = guest & ~Int64(header.clusterSize - 1)
        guard hostOffset < fileSize else {
            throw QCOW2Error.corruptTable(
                path: path, table: "L2 table",
                detail:
                    """
                    the compressed cluster at guest offset \(clusterStart) points at \(hostOffset), \
                    past the end of the \(fileSize)-byte file
                    """
            )
        }
        // The last sector may extend past the end of the file; what is missing reads as zeros.
        let input = try readBytes(file, at: hostOffset, count: Int(min(Int64(compressedSize), fileSize - hostOffset)))
        let within = Int(guest - clusterStart)
        let decompress = { (output: UnsafeMutableRawBufferPointer) throws in
            let problem = input.withUnsafeBytes { ClusterDecompressor.decompress(self.header.compressionType, $0, into: output) }
            if let problem { throw QCOW2Error.badCompressedCluster(path: self.path, guestOffset: clusterStart, detail: problem) }
        }
        if within == 0, buffer.count == header.clusterSize {
            try decompress(buffer)
        } else {
            let cluster = UnsafeMutableRawBufferPointer.allocate(byteCount: header.clusterSize, alignment: 16)
            defer { cluster.deallocate() }
            try decompress(cluster)
            buffer.copyMemory(from: UnsafeRawBufferPointer(rebasing: cluster[within..<(within + buffer.count)]))
        }
    }

    // MARK: Mapping

    /// What a run of guest bytes maps to.
    enum ExtentKind: Equatable {
        /// Reads as zeros.
        case zero
        /// Unallocated here: read from the backing image (zeros without one).
        case backing
        /// Stored at this host offset of the image file or external data file.
        case data(host: Int64)
        /// A compressed cluster with this L2 entry (never longer than one cluster).
        case compressed(entry: UInt64)
    }

    struct Extent {
        var kind: ExtentKind
        var length: Int
    }

    /// The longest run from `guest` (at most `limit` bytes, within one L2 table) that maps the
    /// same way, with contiguous host offsets for data.
    func extent(at guest: Int64, limit: Int) throws -> Extent {
        let clusterSize = Int64(header.clusterSize)
        let clusterIndex = guest >> header.clusterBits
        let l1Index = Int(clusterIndex / Int64(header.l2Entries))
        let tableEnd = Int64(l1Index + 1) * header.bytesPerL2Table
        let maximum = Int(min(Int64(limit), tableEnd - guest, size - guest))
        let l2Offset = Int64(l1[l1Index] & Self.offsetMask)
        if l2Offset == 0 { return Extent(kind: .backing, length: maximum) }
        let table = try l2Table(at: l2Offset, l1Index: l1Index)

        let unitSize = header.hasExtendedL2 ? clusterSize / 32 : clusterSize
        var position = guest
        var first: ExtentKind?
        var length = 0
        while length < maximum {
            let (kind, unitEnd) = try unit(at: position, table: table, l1Index: l1Index, unitSize: unitSize)
            let take = Int(min(unitEnd - position, Int64(maximum - length)))
            if let first {
                switch (first, kind) {
                case (.zero, .zero), (.backing, .backing): break
                case let (.data(start), .data(host)) where host == start + Int64(length): break
                default: return Extent(kind: first, length: length)
                }
            } else {
                first = kind
                if case .compressed = kind { return Extent(kind: kind, length: take) }
            }
            length += take
            position += Int64(take)
        }
        return Extent(kind: first ?? .backing, length: length)
    }

    /// How the unit (cluster, or subcluster with extended L2) holding `guest` maps, and where the
    /// unit ends. Data offsets are for `guest` itself.
    private func unit(at guest: Int64, table: [UInt64], l1Index: Int, unitSize: Int64) throws -> (ExtentKind, Int64) {
        let clusterSize = Int64(header.clusterSize)
        let clusterStart = guest & ~(clusterSize - 1)
        let index = Int((guest >> header.clusterBits) % Int64(header.l2Entries))
        let extended = header.hasExtendedL2
        let entry = table[extended ? index * 2 : index]
        let clusterEnd = clusterStart + clusterSize

        if entry & Self.compressedFlag != 0 {
            guard dataFile == nil else {
                throw QCOW2Error.corruptTable(
                    path: path, table: "L2 table",
                    detail: "a compressed cluster at guest offset \(clusterStart) in an image with an external data file")
            }
            return (.compressed(entry: entry), clusterEnd)
        }
        let host = Int64(entry & Self.offsetMask)
        let hasHost = host != 0 || (dataFile != nil && entry & Self.copiedFlag != 0)
        if hasHost {
            guard host % clusterSize == 0 else {
                throw QCOW2Error.corruptTable(
                    path: path, table: "L2 table", detail: "guest offset \(clusterStart) maps to unaligned host offset \(host)")
            }
            if dataFile == nil, host >= fileSize {
                throw QCOW2Error.corruptTable(
                    path: path, table: "L2 table",
                    detail: "guest offset \(clusterStart) maps to host offset \(host), past the end of the \(fileSize)-byte file")
            }
        }
        if !extended {
            if header.version >= 3, entry & Self.zeroFlag != 0 { return (.zero, clusterEnd) }
            if entry & Self.zeroFlag != 0 {
                throw QCOW2Error.corruptTable(
                    path: path, table: "L2 table", detail: "a zero-cluster flag at guest offset \(clusterStart) in a version 2 image")
            }
            return (hasHost ? .data(host: host + (guest - clusterStart)) : .backing, clusterEnd)
        }
        let bitmap = table[index * 2 + 1]
        let allocated = UInt32(truncatingIfNeeded: bitmap)
        let zeros = UInt32(truncatingIfNeeded: bitmap >> 32)
        guard allocated & zeros == 0 else {
            throw QCOW2Error.corruptTable(
                path: path, table: "extended L2 table",
                detail: "subclusters at guest offset \(clusterStart) are marked both allocated and zero")
        }
        guard hasHost || allocated == 0 else {
            throw QCOW2Error.corruptTable(
                path: path, table: "extended L2 table",
                detail: "subclusters at guest offset \(clusterStart) are allocated in a cluster with no host offset")
        }
        let sub = Int((guest - clusterStart) / unitSize)
        let unitEnd = clusterStart + Int64(sub + 1) * unitSize
        if allocated & (1 << sub) != 0 { return (.data(host: host + (guest - clusterStart)), unitEnd) }
        if zeros & (1 << sub) != 0 { return (.zero, unitEnd) }
        return (.backing, unitEnd)
    }

    private func l2Table(at offset: Int64, l1Index: Int) throws -> [UInt64] {
        let clusterSize = header.clusterSize
        guard offset % Int64(clusterSize) == 0 else {
            throw QCOW2Error.corruptTable(path: path, table: "L1 table", detail: "entry \(l1Index) points at unaligned offset \(offset)")
        }
        guard offset < fileSize else {
            throw QCOW2Error.corruptTable(
                path: path, table: "L1 table", detail: "entry \(l1Index) points at \(offset), past the end of the \(fileSize)-byte file")
        }
        guard offset + Int64(clusterSize) <= fileSize else {
            throw QCOW2Error.truncated(
                path: path, structure: "L2 table at \(offset)", needed: offset + Int64(clusterSize), fileSize: fileSize)
        }
        return try cache.table(at: offset) {
            let bytes = try readBytes(file, at: offset, count: clusterSize)
            guard bytes.count == clusterSize else {
                throw QCOW2Error.truncated(
                    path: path, structure: "L2 table at \(offset)", needed: offset + Int64(clusterSize), fileSize: fileSize)
            }
            return bytes.withUnsafeBytes(decodeBigEndianTable)
        }
    }

    /// Reads `count` bytes of image metadata at `offset`, which must lie inside the file.
    func readMetadata(at offset: Int64, count: Int, structure: String) throws -> [UInt8] {
        guard offset >= 0, count >= 0, offset + Int64(count) <= fileSize else {
            throw QCOW2Error.truncated(
                path: path, structure: "\(structure) at \(offset)", needed: offset + Int64(count), fileSize: fileSize)
        }
        let bytes = try readBytes(file, at: offset, count: count)
        guard bytes.count == count else {
            throw VolumeError.sourceShrank(path: path, expected: fileSize, actual: offset + Int64(bytes.count))
        }
        return bytes
    }

    // MARK: Helpers

    private static func identity(of file: File) throws -> FileIdentity {
        var st = stat()
        guard fstat(file.descriptor, &st) == 0 else { throw VolumeError.io(SystemError("stat", path: file.path)) }
        return FileIdentity(device: UInt64(st.st_dev), inode: UInt64(st.st_ino))
    }

    private static func identity(ofFileAt path: String) throws -> FileIdentity {
        var st = stat()
        guard stat(path, &st) == 0 else { throw VolumeError.io(SystemError("stat", path: path)) }
        return FileIdentity(device: UInt64(st.st_dev), inode: UInt64(st.st_ino))
    }

    private static func size(of file: File) throws -> Int64 {
        do { return try file.size() } catch { throw VolumeError.io(error) }
    }

    private static func lockState(ofFileAt path: String) throws -> QEMULockState {
        let file: File
        do { file = try File.open(path, flags: O_RDONLY) } catch { throw VolumeError.io(error) }
        defer { file.close() }
        return QEMULockProbe.state(of: file.descriptor)
    }

    /// A name from the header, relative to the directory of the image that names it.
    static func resolve(_ name: String, relativeTo image: String) -> String {
        if name.hasPrefix("/") { return name }
        guard let slash = image.lastIndex(of: "/") else { return name }
        return String(image[...slash]) + name
    }

    private static func backingFormat(_ recorded: String?, of path: String, image: String) throws -> ImageFormat {
        if let recorded {
            switch recorded {
            case "qcow2": return .qcow2
            case "raw", "file", "host_device": return .raw
            default:
                throw QCOW2Error.unsupportedFeature(path: image, detail: "its backing file \(path) is in format \(recorded)")
            }
        }
        do { return try ImageFormat.detect(path: path) } catch {
            throw QCOW2Error.missingFile(path: image, role: "backing file", file: path, detail: "\(error)")
        }
    }
}
