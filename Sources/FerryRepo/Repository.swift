import FerryBlob
import Foundation

/// An open Ferry repository: its config, keys and merged chunk index, over an object store.
///
/// The index is read once at open; a writer session adds to the store without changing this
/// value, so each `ferry backup` dedups against what was committed before it started.
public final class Repository: Sendable {
    public let store: any ObjectStore
    public let config: RepositoryConfig
    public let hasher: ChunkHasher
    public let index: ChunkIndex
    /// Index objects that could not be read (named, with the reason); their chunks count as absent.
    public let indexProblems: [String]
    /// Names of the index objects merged into `index`.
    public var indexNames: Set<String> { Set(indexCovered.keys) }
    /// The index objects merged into `index`, with their creation times (ns since 1970): what
    /// the cache records, and what `reopened()` builds on.
    let indexCovered: [String: UInt64]
    /// How the repository was opened: its keys, the config's bytes, the key slot used.
    struct Access: Sendable {
        var keys: MasterKeys?
        var configBytes: [UInt8]
        var slot: String?
        var cache: IndexCache?
    }

    let access: Access
    var keys: MasterKeys? { access.keys }

    private init(
        store: any ObjectStore, config: RepositoryConfig, access: Access, index: ChunkIndex, indexCovered: [String: UInt64],
        indexProblems: [String]
    ) {
        self.store = store
        self.config = config
        self.access = access
        self.hasher = ChunkHasher(key: access.keys?.idKey)
        self.index = index
        self.indexCovered = indexCovered
        self.indexProblems = indexProblems
    }

    public var location: String { store.location }
    public var isEncrypted: Bool { keys != nil }

    // MARK: - Creating and opening

    /// Creates a repository in an empty store: writes `config` and the first key slot.
    /// `password` nil creates an unencrypted repository.
    @discardableResult
    public static func initialize(
        store: any ObjectStore, password: [UInt8]?, blockSize: Int = BlockSize.default, packSize: Int = 32 << 20,
        blockMapPageEntries: Int = 4096, compression: Compression = .lz4, objectLock: ObjectLockPolicy? = nil,
        kdf: Scrypt = .standard
    ) async throws -> RepositoryConfig {
        guard BlockSize.isValid(blockSize) else {
            throw RepositoryError.invalidArgument("block size \(blockSize) is not a power of two between 64 KiB and 8 MiB")
        }
        guard (16...(1 << 20)).contains(blockMapPageEntries), blockMapPageEntries.nonzeroBitCount == 1 else {
            throw RepositoryError.invalidArgument(
                "block-map page entries \(blockMapPageEntries) is not a power of two between 16 and 1048576")
        }
        if try await wrap({ try await store.head(ObjectName.config) }) != nil {
            throw RepositoryError.alreadyInitialized(location: store.location)
        }
        if let objectLock {
            guard objectLock.days > 0 else { throw RepositoryError.invalidArgument("the Object Lock period must be more than 0 days") }
            guard let versions = store.capabilities.versions else {
                throw RepositoryError.objectLockUnavailable(location: store.location, detail: "only S3 buckets have Object Lock")
            }
            guard try await wrap({ try await versions.objectLockEnabled() }) else {
                throw RepositoryError.objectLockUnavailable(
                    location: store.location,
                    detail: "Object Lock is not enabled on the bucket (it can only be turned on when a bucket is created: "
                        + "x-amz-bucket-object-lock-enabled, `aws s3api create-bucket --object-lock-enabled-for-bucket`)")
            }
            // From here on, the key slot and the config are locked too.
            versions.lockNewObjects(objectLock.rule)
        }
        var config = RepositoryConfig(
            id: SecureRandom.hex(16), created: Date(), encrypted: password != nil, blockSize: blockSize, packSize: packSize,
            blockMapPageEntries: blockMapPageEntries, compression: compression)
        config.objectLock = objectLock
        if let conditional = store.capabilities.conditionalWrites {
            // Recorded once, so every later open knows whether create-only writes are atomic.
            config.conditionalWrites = try await wrap { try await conditional.probeConditionalWrites() }.rawValue
        }
        let configBytes = try [UInt8](Self.encoder.encode(config))
        if let password {
            let slot = try KeySlot.make(password: password, masterKeys: .random(), config: config, configBytes: configBytes, kdf: kdf)
            try await wrap { try await store.put(ObjectName.key(SecureRandom.hex(16)), try [UInt8](Self.encoder.encode(slot))) }
        }
        // The config goes last: a store holding only a key slot is not yet a repository.
        do {
            try await store.put(ObjectName.config, configBytes)
        } catch ObjectStoreError.alreadyExists {
            throw RepositoryError.alreadyInitialized(location: store.location)
        } catch let error as ObjectStoreError {
            throw RepositoryError.store(error)
        }
        return try Self.decoder.decode(RepositoryConfig.self, from: Data(configBytes))
    }

    /// Opens the repository in `store` with `password` (nil only for unencrypted repositories).
    /// Without `loadIndex` the chunk index is left empty (enough to list snapshots or to begin
    /// a write session, which reads the index itself).
    public static func open(store: any ObjectStore, password: [UInt8]?, loadIndex: Bool = true, cache: IndexCache? = nil) async throws
        -> Repository
    {
        try await open(store: store, credential: password.map { .password($0) }, loadIndex: loadIndex, cache: cache)
    }

    /// Opens the repository with a password or a raw key (nil only for unencrypted repositories).
    /// With a `cache`, the merged index is kept locally between runs.
    public static func open(store: any ObjectStore, credential: Credential?, loadIndex: Bool = true, cache: IndexCache? = nil) async throws
        -> Repository
    {
        let configBytes: [UInt8]
        do {
            configBytes = try await store.get(ObjectName.config)
        } catch ObjectStoreError.notFound {
            throw RepositoryError.notARepository(location: store.location)
        } catch let error as ObjectStoreError {
            throw RepositoryError.store(error)
        }
        let config: RepositoryConfig
        do {
            config = try Self.decoder.decode(RepositoryConfig.self, from: Data(configBytes))
        } catch {
            throw RepositoryError.corruptObject(name: ObjectName.config, detail: "not valid JSON")
        }
        try config.validate(location: store.location)
        if let objectLock = config.objectLock {
            // Whatever this process writes is locked as the repository requires; a store that
            // cannot lock (a copy in a directory, a read-only view) can still be read.
            store.capabilities.versions?.lockNewObjects(objectLock.rule)
        }
        if let conditional = store.capabilities.conditionalWrites,
            let recorded = config.conditionalWrites.flatMap(S3ConditionalWrites.init(rawValue:))
        {
            conditional.assumeConditionalWrites(recorded)
        }
        let slots = try await wrap { try await store.list(prefix: ObjectName.keysPrefix) }
        var keys: MasterKeys?
        var slotName: String?
        if config.isEncrypted {
            guard let credential else { throw RepositoryError.passwordRequired }
            for slot in slots.sorted(by: { $0.name < $1.name }) {
                let bytes = try await wrap { try await store.get(slot.name) }
                guard let decoded = try? Self.decoder.decode(KeySlot.self, from: Data(bytes)) else { continue }
                if let opened = try decoded.open(credential, config: config, configBytes: configBytes, name: slot.name) {
                    keys = opened
                    slotName = slot.name
                    break
                }
            }
            guard keys != nil else { throw RepositoryError.wrongPassword(location: store.location) }
        } else if !slots.isEmpty {
            throw RepositoryError.corruptObject(
                name: ObjectName.config, detail: "it says the repository is unencrypted, but key slots exist (altered?)")
        }
        let access = Access(keys: keys, configBytes: configBytes, slot: slotName, cache: cache)
        guard loadIndex else {
            return Repository(store: store, config: config, access: access, index: ChunkIndex(), indexCovered: [:], indexProblems: [])
        }
        let (index, covered, problems) = try await Self.loadIndex(store: store, config: config, access: access, base: nil)
        return Repository(store: store, config: config, access: access, index: index, indexCovered: covered, indexProblems: problems)
    }

    /// The same repository with its index read again (to see what other writers committed).
    /// When every index object merged so far is still listed, only the ones written since are
    /// fetched and merged into a copy of this index (merging in steps gives the same table), so
    /// a backup's session does not decode the cache or every index object a second time.
    public func reopened() async throws -> Repository {
        let base = indexCovered.isEmpty ? nil : (index, indexCovered)
        let (index, covered, problems) = try await Self.loadIndex(store: store, config: config, access: access, base: base)
        return Repository(store: store, config: config, access: access, index: index, indexCovered: covered, indexProblems: problems)
    }

    /// Reads the merged index: from `base` (an index already merged, if all it covers is still
    /// listed), else the local cache, plus the index objects written since; or, with neither,
    /// from every index object (then caching the result).
    private static func loadIndex(
        store: any ObjectStore, config: RepositoryConfig, access: Access, base: (ChunkIndex, [String: UInt64])?
    ) async throws -> (ChunkIndex, [String: UInt64], [String]) {
        let listed = try await wrap { try await store.listNames(prefix: ObjectName.indexPrefix) }
        var covered: [String: UInt64] = [:]
        var index = ChunkIndex()
        var missing = listed
        if let (baseIndex, baseCovered) = base, let unlisted = unmerged(listed, covered: baseCovered) {
            covered = baseCovered
            index = baseIndex
            missing = unlisted
        } else if let cache = access.cache, let cached = cache.load(repositoryID: config.id, keys: access.keys, listed: listed),
            let unlisted = unmerged(listed, covered: cached.names)
        {
            covered = cached.names
            index = cached.index
            missing = unlisted
        }
        missing.sort()
        var objects: [IndexObject] = []
        var problems: [String] = []
        // Fetched and decoded 256 at a time, so the raw bytes of every object are never held at once.
        for start in stride(from: 0, to: missing.count, by: 256) {
            for (name, bytes) in try await fetchAll(Array(missing[start..<min(missing.count, start + 256)]), store: store) {
                do {
                    let object = try readIndexObject(bytes, name: name, keys: access.keys)
                    objects.append(object)
                    covered[name] = UInt64(max(0, object.created.timeIntervalSince1970 * 1e9))
                } catch let error as RepositoryError {
                    problems.append(error.description)
                }
            }
        }
        let merged = !objects.isEmpty
        // The decoded objects go into the merge and are released there, once staged.
        index.merge(consume objects)
        access.cache?.update(IndexCache.Contents(names: covered, index: index), merged: merged, repositoryID: config.id, keys: access.keys)
        return (index, covered, problems.sorted())
    }

    /// The listed index objects that `covered` does not hold, or nil when `covered` holds one
    /// that is no longer listed (prune compacted the index). One lookup per listed name: this
    /// runs at every session's start, over every index object.
    private static func unmerged(_ listed: [String], covered: [String: UInt64]) -> [String]? {
        var found = 0
        var missing: [String] = []
        for name in listed {
            if covered[name] != nil { found += 1 } else { missing.append(name) }
        }
        return found == covered.count ? missing : nil
    }

    /// Every readable index object with its name, and a description of each unreadable one.
    static func loadIndexObjects(store: any ObjectStore, keys: MasterKeys?) async throws -> (
        objects: [(name: String, object: IndexObject)], problems: [String]
    ) {
        let names = try await wrap { try await store.list(prefix: ObjectName.indexPrefix) }.map(\.name)
        var objects: [(name: String, object: IndexObject)] = []
        var problems: [String] = []
        for (name, bytes) in try await fetchAll(names, store: store) {
            do {
                objects.append((name, try readIndexObject(bytes, name: name, keys: keys)))
            } catch let error as RepositoryError {
                problems.append(error.description)
            }
        }
        return (objects, problems.sorted())
    }

    /// This repository's index objects, as stored now.
    func indexObjects() async throws -> (objects: [(name: String, object: IndexObject)], problems: [String]) {
        try await Self.loadIndexObjects(store: store, keys: keys)
    }

    /// Calls `body` with each index object as stored now, fetching a few at a time and keeping
    /// none: prune's way through millions of entries. Returns a description of each unreadable one.
    func forEachIndexObject(batch: Int = 16, _ body: (String, IndexObject) throws -> Void) async throws -> [String] {
        let names = try await Self.wrap { try await store.list(prefix: ObjectName.indexPrefix) }.map(\.name)
        var problems: [String] = []
        var start = 0
        while start < names.count {
            let slice = Array(names[start..<min(names.count, start + batch)])
            start += batch
            for (name, bytes) in try await Self.fetchAll(slice, store: store) {
                do {
                    try body(name, try Self.readIndexObject(bytes, name: name, keys: keys))
                } catch let error as RepositoryError {
                    problems.append(error.description)
                }
            }
        }
        return problems.sorted()
    }

    /// Reads one index object by name.
    func indexObject(named name: String) async throws -> IndexObject {
        try Self.readIndexObject(try await Self.wrap { try await store.get(name) }, name: name, keys: keys)
    }

    static func readIndexObject(_ bytes: [UInt8], name: String, keys: MasterKeys?) throws -> IndexObject {
        guard let id = ObjectName.id(in: name), Digest.sha256(bytes) == id else {
            throw RepositoryError.corruptObject(name: name, detail: "content does not match its name (damaged)")
        }
        return try IndexObject.decode(ObjectEnvelope.open(bytes, kind: .index, keys: keys, name: name), name: name)
    }

    // MARK: - Snapshots

    /// Every readable snapshot, oldest first, and a description of each one that is not.
    public func snapshots() async throws -> (snapshots: [Snapshot], problems: [String]) {
        let names = try await Self.wrap { try await store.list(prefix: ObjectName.snapshotsPrefix) }.map(\.name)
        var snapshots: [Snapshot] = []
        var problems: [String] = []
        for (name, bytes) in try await Self.fetchAll(names, store: store) {
            do {
                snapshots.append(try decodeSnapshot(bytes, name: name))
            } catch let error as RepositoryError {
                problems.append(error.description)
            }
        }
        snapshots.sort { ($0.manifest.time, $0.id) < ($1.manifest.time, $1.id) }
        return (snapshots, problems.sorted())
    }

    /// The snapshot whose id is or starts with `text` ("latest" means the newest).
    public func snapshot(matching text: String) async throws -> Snapshot {
        if let id = ChunkID(hex: text) { return try await snapshot(id: id) }
        let all = try await snapshots().snapshots
        if text == "latest", let newest = all.last { return newest }
        let matches = all.filter { $0.id.hex.hasPrefix(text.lowercased()) }
        guard !text.isEmpty, let first = matches.first else { throw RepositoryError.snapshotNotFound(text) }
        guard matches.count == 1 else { throw RepositoryError.ambiguousSnapshot(prefix: text, matches: matches.map(\.id.short)) }
        return first
    }

    public func snapshot(id: ChunkID) async throws -> Snapshot {
        let name = ObjectName.snapshot(id)
        do {
            return try decodeSnapshot(try await store.get(name), name: name)
        } catch ObjectStoreError.notFound {
            throw RepositoryError.snapshotNotFound(id.hex)
        } catch let error as ObjectStoreError {
            throw RepositoryError.store(error)
        }
    }

    func decodeSnapshot(_ bytes: [UInt8], name: String) throws -> Snapshot {
        guard let id = ObjectName.id(in: name), Digest.sha256(bytes) == id else {
            throw RepositoryError.corruptObject(name: name, detail: "content does not match its name (damaged)")
        }
        let payload = try ObjectEnvelope.open(bytes, kind: .snapshot, keys: keys, name: name)
        do {
            return Snapshot(id: id, manifest: try Self.decoder.decode(SnapshotManifest.self, from: Data(payload)))
        } catch {
            throw RepositoryError.corruptObject(name: name, detail: "manifest is not valid: \(error)")
        }
    }

    // MARK: - Chunks

    /// The codec that opens chunks of `pack`.
    public func codec(for pack: IndexObject.Pack) -> ChunkCodec {
        ChunkCodec(cipher: keys?.subkey(salt: pack.salt, purpose: PackFormat.purpose), hasher: hasher)
    }

    /// Reads, decrypts, decompresses and verifies one chunk.
    public func readChunk(_ id: ChunkID, context: String) async throws -> [UInt8] {
        guard let location = index.location(of: id) else {
            throw RepositoryError.missingChunk(id: id, context: context)
        }
        let start = Int64(location.offset)
        let record = try await Self.wrap { try await store.get(location.packName, range: start..<start + Int64(location.length)) }
        var plain = [UInt8](repeating: 0, count: Int(location.rawLength))
        try record.withUnsafeBytes { r in
            try plain.withUnsafeMutableBytes { try codec(for: location.pack).decode(r, id: id, into: $0, pack: location.packName) }
        }
        return plain
    }

    /// Page `page` of a volume's block map.
    public func blockMapPage(_ volume: VolumeManifest, page: Int) async throws -> BlockMapPage {
        let id = try volume.pageID(page)
        let bytes = try await readChunk(id, context: "block map of \(volume.name)")
        return try BlockMapPage.decode(bytes, expectedEntries: volume.entries(inPage: page), name: "block-map page \(id.short)")
    }

    // MARK: - Writing

    /// Starts a writer session: it announces itself with a `sessions/<id>` marker, which it
    /// refreshes while alive. `compression` overrides the repository's default for its chunks.
    public func beginSession(lease: Duration = .seconds(900), compression: Compression? = nil) async throws -> WriteSession {
        try requireLocking()
        return try await WriteSession.begin(repository: self, lease: lease, compression: compression)
    }

    /// A repository under Object Lock is written only through a store that locks what it writes.
    func requireLocking() throws {
        guard config.objectLock != nil, store.capabilities.versions == nil else { return }
        throw RepositoryError.objectLockUnavailable(
            location: store.location,
            detail: "the repository requires S3 Object Lock on everything written to it; write to it through its bucket")
    }

    /// Seals and names a snapshot manifest (the caller stores it).
    func sealSnapshot(_ manifest: SnapshotManifest) throws -> (name: String, bytes: [UInt8]) {
        let payload = try [UInt8](Self.encoder.encode(manifest))
        let bytes = ObjectEnvelope.seal(payload, kind: .snapshot, keys: keys)
        return (ObjectName.snapshot(Digest.sha256(bytes)), bytes)
    }

    func sealIndex(_ object: IndexObject) -> (name: String, bytes: [UInt8]) {
        let bytes = ObjectEnvelope.seal(object.encode(), kind: .index, keys: keys)
        return (ObjectName.index(Digest.sha256(bytes)), bytes)
    }

    func newPackBuilder(kind: PackFormat.Kind, maxChunk: Int, compression: Compression? = nil, buffer: consuming [UInt8] = [])
        -> PackBuilder
    {
        let target = kind == .data ? config.packSize : min(config.packSize, 8 << 20)
        return PackBuilder(
            kind: kind, keys: keys, hasher: hasher, target: target, maxChunk: maxChunk,
            compression: compression ?? config.defaultCompression, buffer: consume buffer)
    }

    /// Opens the trailer of a whole pack (for check and index rebuilds).
    public func packEntries(_ bytes: [UInt8], name: String) throws -> (header: PackFormat.Header, entries: [PackEntry]) {
        guard bytes.count >= PackFormat.headerSize + PackFormat.footerSize else {
            throw RepositoryError.corruptObject(name: name, detail: "\(bytes.count) bytes is too short to be a pack")
        }
        let (length, count) = try PackFormat.parseFooter(bytes[(bytes.count - PackFormat.footerSize)...], name: name)
        let trailerEnd = bytes.count - PackFormat.footerSize
        guard length <= trailerEnd - PackFormat.headerSize else {
            throw RepositoryError.corruptObject(name: name, detail: "trailer length \(length) exceeds the pack")
        }
        return try packEntries(
            header: Array(bytes[0..<PackFormat.headerSize]), trailer: Array(bytes[(trailerEnd - length)..<trailerEnd]), count: count,
            trailerStart: trailerEnd - length, name: name)
    }

    /// Opens a pack's trailer given its header, sealed trailer and entry count.
    public func packEntries(header bytes: [UInt8], trailer sealed: [UInt8], count: Int, trailerStart: Int, name: String) throws -> (
        header: PackFormat.Header, entries: [PackEntry]
    ) {
        let header = try PackFormat.parseHeader(bytes[...], name: name)
        guard header.encrypted == isEncrypted else {
            throw RepositoryError.corruptObject(name: name, detail: "pack encryption flag does not match the repository")
        }
        var plain = sealed
        if let keys {
            guard
                let opened = keys.subkey(salt: header.salt, purpose: PackFormat.purpose).open(
                    sealed, aad: PackFormat.trailerAAD(header: bytes))
            else {
                throw RepositoryError.corruptObject(name: name, detail: "trailer authentication failed (damaged or altered)")
            }
            plain = opened
        }
        return (header, try PackFormat.parseTrailer(plain, count: count, packSize: trailerStart, name: name))
    }

    // MARK: - Helpers

    /// JSON as stored in the repository: sorted keys, ISO 8601 times with fractional seconds
    /// (snapshots taken within one second must still order correctly).
    public static var encoder: JSONEncoder {
        let e = JSONEncoder()
        e.dateEncodingStrategy = .custom { date, encoder in
            var container = encoder.singleValueContainer()
            try container.encode(date.formatted(Date.ISO8601FormatStyle(includingFractionalSeconds: true)))
        }
        e.outputFormatting = [.sortedKeys]
        return e
    }

    public static var decoder: JSONDecoder {
        let d = JSONDecoder()
        d.dateDecodingStrategy = .custom { decoder in
            let text = try decoder.singleValueContainer().decode(String.self)
            if let date = try? Date.ISO8601FormatStyle(includingFractionalSeconds: true).parse(text) { return date }
            if let date = try? Date.ISO8601FormatStyle().parse(text) { return date }
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "not an ISO 8601 time: \(text)"))
        }
        return d
    }

    /// Runs a store call, turning store errors into repository errors.
    @discardableResult
    static func wrap<T>(_ body: () async throws -> T) async throws -> T {
        do {
            return try await body()
        } catch let error as ObjectStoreError {
            throw RepositoryError.store(error)
        }
    }

    /// Fetches whole objects with at most `width` requests in flight.
    static func fetchAll(_ names: [String], store: any ObjectStore, width: Int = 16) async throws -> [(String, [UInt8])] {
        try await withThrowingTaskGroup(of: (String, [UInt8]).self) { group in
            var results: [(String, [UInt8])] = []
            var pending = names[...]
            func startNext() {
                guard let name = pending.popFirst() else { return }
                group.addTask { (name, try await wrap { try await store.get(name) }) }
            }
            for _ in 0..<width { startNext() }
            while let result = try await group.next() {
                results.append(result)
                startNext()
            }
            return results
        }
    }
}
