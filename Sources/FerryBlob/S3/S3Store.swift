import FerryDigest
import FerryHTTP
import Foundation
import Synchronization

/// An object store in an S3 bucket (AWS S3, MinIO, Ceph RGW, SeaweedFS, ...), over libcurl.
///
/// Objects live under `configuration.prefix`. Every request is signed with SigV4 and retried
/// with backoff on server overload and network failures, never on authentication errors.
/// Uploads carry an `x-amz-checksum-sha256` the server verifies, and create-only uploads carry
/// `If-None-Match: *` once a probe has shown the server honours it (see
/// `probeConditionalWrites`). Downloads are checked against the stored checksum (or the MD5
/// ETag) and fail with `ObjectStoreError.corrupt` when they do not match. Objects above
/// `multipartThreshold` are uploaded in parts.
public final class S3Store: ObjectStore, ConditionalWriteControl, Sendable {
    public let configuration: S3Configuration
    public let location: String
    let client: HTTPClient
    let credentialsProvider: any S3CredentialsProvider
    let signer: S3Signer
    let endpoint: S3Endpoint
    let keyPrefix: String
    private let conditional: Mutex<ConditionalState>
    private let bucketChecked = Atomic<Bool>(false)
    /// Which new objects get an Object Lock retention (`lockNewObjects`).
    let retentionRule = Mutex<RetentionRule?>(nil)

    private enum ConditionalState {
        case known(S3ConditionalWrites)
        case unknown
        case probing(Task<S3ConditionalWrites, any Error>)
    }

    /// Creates a store. `client` defaults to a new HTTP client built from the configuration.
    public init(configuration: S3Configuration, credentials: any S3CredentialsProvider, client: HTTPClient? = nil) throws {
        self.configuration = configuration
        location = configuration.location
        endpoint = try S3Endpoint(configuration: configuration)
        var prefix = configuration.prefix
        while prefix.hasPrefix("/") { prefix.removeFirst() }
        while prefix.hasSuffix("//") { prefix.removeLast() }
        if !prefix.isEmpty && !prefix.hasSuffix("/") { prefix += "/" }
        keyPrefix = prefix
        signer = S3Signer(region: configuration.region)
        credentialsProvider = credentials
        conditional = Mutex(configuration.conditionalWrites.map { .known($0) } ?? .unknown)
        if let client {
            self.client = client
        } else {
            do {
                self.client = try HTTPClient(
                    configuration: HTTPClientConfiguration(
                        tls: configuration.tls, timeouts: configuration.timeouts, resolve: configuration.resolve,
                        maxConcurrentTransfers: configuration.maxConcurrentRequests, maxResponseBodySize: 1 << 20,
                        userAgent: "ferry-s3"))
            } catch {
                throw ObjectStoreError.unavailable(store: configuration.location, detail: error.description)
            }
        }
    }

    public var capabilities: StoreCapabilities { StoreCapabilities(conditionalWrites: self, versions: self) }

    var credentialsSource: String { credentialsProvider.source }
    var endpointDescription: String { endpoint.displayURL }

    // MARK: - ObjectStore

    @discardableResult
    public func put(_ name: String, _ bytes: [UInt8], mode: PutMode) async throws -> PutOutcome {
        let key = try objectKey(name)
        if bytes.count > configuration.multipartThreshold {
            return try await multipartPut(name: name, key: key, bytes: bytes, mode: mode)
        }
        let digest = Hash.sha256(bytes)
        var useCondition = false
        if mode == .createOnly {
            switch try await conditionalWrites() {
            case .honoured:
                useCondition = true
            case .ignored:
                if try await headObject(key: key, name: name) != nil {
                    return try await resolveExisting(name: name, key: key, bytes: bytes, sha256: digest)
                }
            }
        }
        var headers = HTTPHeaders()
        headers.add("Content-Type", "application/octet-stream")
        headers.add("x-amz-checksum-sha256", ByteText.base64(digest))
        if useCondition { headers.add("If-None-Match", "*") }
        if let storageClass = storageClass(for: name) { headers.add("x-amz-storage-class", storageClass) }
        for (header, value) in lockHeaders(for: name, body: bytes[...]) ?? [:] { headers.add(header, value) }
        let response = try await send(
            S3Request(
                method: .put, key: key, headers: headers, body: bytes[...], payloadHash: ByteText.hex(digest), operation: "PUT", name: name)
        )
        if response.isSuccess { return .created }
        let error = S3ErrorResponse(response)
        if response.status == 412 && mode == .createOnly {
            return try await resolveExisting(name: name, key: key, bytes: bytes, sha256: digest)
        }
        throw error.storeError(operation: "PUT", name: name, store: self)
    }

    public func get(_ name: String) async throws -> [UInt8] {
        try await get(name, version: nil)
    }

    /// The whole object, or one version of it.
    func get(_ name: String, version: String?) async throws -> [UInt8] {
        let key = try objectKey(name)
        let versionQuery = version.map { [("versionId", $0)] } ?? []
        let attempts = min(3, configuration.retry.maxAttempts)
        var attempt = 0
        while true {
            attempt += 1
            var headers = HTTPHeaders()
            headers.add("x-amz-checksum-mode", "ENABLED")
            let response = try await send(
                S3Request(
                    method: .get, key: key, query: versionQuery, headers: headers, operation: "GET", name: name,
                    maxResponseBodySize: Int.max))
            guard response.isSuccess else {
                throw S3ErrorResponse(response).storeError(operation: "GET", name: name, store: self)
            }
            guard let problem = Self.integrityProblem(response) else { return response.body }
            // Damage in transit goes away on a second read; damage at rest does not.
            if attempt >= attempts {
                throw ObjectStoreError.corrupt(name: name, store: location, detail: problem + " (in \(attempt) reads)")
            }
        }
    }

    public func get(_ name: String, range: Range<Int64>) async throws -> [UInt8] {
        try await get(name, range: range, version: nil)
    }

    /// Bytes `range` of the object, or of one version of it.
    func get(_ name: String, range: Range<Int64>, version: String?) async throws -> [UInt8] {
        let key = try objectKey(name)
        guard !range.isEmpty else { return [] }
        var headers = HTTPHeaders()
        headers.add("Range", "bytes=\(range.lowerBound)-\(range.upperBound - 1)")
        let response = try await send(
            S3Request(
                method: .get, key: key, query: version.map { [("versionId", $0)] } ?? [], headers: headers, operation: "GET", name: name,
                maxResponseBodySize: max(1 << 20, range.count + 4096)))
        switch response.status {
        case 206:
            if let contentRange = response.headers["Content-Range"], !contentRange.hasPrefix("bytes \(range.lowerBound)-") {
                throw ObjectStoreError.corrupt(
                    name: name, store: location, detail: "asked for bytes \(range.lowerBound)..<\(range.upperBound), got \(contentRange)")
            }
            guard response.body.count == range.count else {
                throw ObjectStoreError.corrupt(
                    name: name, store: location,
                    detail:
                        """
                        object ends at byte \(range.lowerBound + Int64(response.body.count)), \
                        before the requested range \(range.lowerBound)..<\(range.upperBound)
                        """
                )
            }
            return response.body
        case 200:
            // The server ignored Range and sent the whole object.
            guard response.body.count >= range.upperBound else {
                throw ObjectStoreError.corrupt(
                    name: name, store: location,
                    detail:
                        "object is \(response.body.count) bytes, shorter than the requested range \(range.lowerBound)..<\(range.upperBound)"
                )
            }
            return Array(response.body[Int(range.lowerBound)..<Int(range.upperBound)])
        case 416:
            let size = response.headers["Content-Range"].flatMap { $0.split(separator: "/").last }.map(String.init) ?? "shorter"
            throw ObjectStoreError.corrupt(
                name: name, store: location,
                detail: "object size \(size) ends before the requested range \(range.lowerBound)..<\(range.upperBound)")
        default:
            throw S3ErrorResponse(response).storeError(operation: "GET", name: name, store: self)
        }
    }

    public func head(_ name: String) async throws -> ObjectInfo? {
        try await headObject(key: objectKey(name), name: name).map { ObjectInfo(name: name, size: $0.size) }
    }

    public func list(prefix: String) async throws -> [ObjectInfo] {
        var found: [ObjectInfo] = []
        var token: String?
        repeat {
            var query: [(String, String)] = [
                ("list-type", "2"), ("prefix", keyPrefix + prefix), ("max-keys", String(min(1000, max(1, configuration.listPageSize)))),
                ("encoding-type", "url"),
            ]
            if let token { query.append(("continuation-token", token)) }
            let document = try await bucketDocument(query: query, operation: "LIST", name: prefix.isEmpty ? nil : prefix + "*")
            let urlEncoded = document.text("EncodingType") == "url"
            for entry in document.all("Contents") {
                guard let rawKey = entry.text("Key"), let size = entry.text("Size").flatMap({ Int64($0) }) else { continue }
                let key = urlEncoded ? Self.percentDecode(rawKey) : rawKey
                guard key.hasPrefix(keyPrefix) else { continue }
                found.append(ObjectInfo(name: String(key.dropFirst(keyPrefix.count)), size: size))
            }
            let truncated = document.text("IsTruncated") == "true"
            token = truncated ? document.text("NextContinuationToken") : nil
            if truncated && (token ?? "").isEmpty {
                throw ObjectStoreError.unavailable(store: location, detail: "LIST page was truncated but carried no continuation token")
            }
        } while token != nil
        return found
    }

    /// GETs a bucket-level listing (`query` names which) and parses its XML; an error status or
    /// a body that is not XML is thrown as the store's error for `operation`.
    func bucketDocument(query: [(String, String)], operation: String, name: String? = nil) async throws -> XMLElement {
        let response = try await send(S3Request(method: .get, key: nil, query: query, operation: operation, name: name))
        guard response.isSuccess else {
            throw S3ErrorResponse(response).storeError(operation: operation, name: name, store: self)
        }
        do {
            return try S3XML.parse(response.body)
        } catch {
            throw ObjectStoreError.unavailable(store: location, detail: "\(operation) returned \(error)")
        }
    }

    public func delete(_ names: [String]) async throws {
        let keys = try names.map { try objectKey($0) }
        let batch = min(1000, max(1, configuration.deleteBatchSize))
        var start = 0
        while start < keys.count {
            let end = min(keys.count, start + batch)
            try await deleteBatch(Array(keys[start..<end]))
            start = end
        }
    }

    // MARK: - Conditional writes

    /// What is known about `If-None-Match: *` on this server: recorded in the configuration, found
    /// by a probe, or nil before either.
    public var knownConditionalWrites: S3ConditionalWrites? {
        conditional.withLock { state in
            if case let .known(value) = state { return value }
            return nil
        }
    }

    /// Finds out whether the server honours `If-None-Match: *` on PUT: writes a small probe
    /// object twice under a random name (the second write must be refused with 412), then
    /// deletes it. The result is kept for later writes; repositories record it at init so
    /// later sessions skip the probe.
    @discardableResult
    public func probeConditionalWrites() async throws -> S3ConditionalWrites {
        let result = try await runProbe()
        conditional.withLock { $0 = .known(result) }
        return result
    }

    /// Takes what a repository recorded at init (from its config, read after the store was
    /// opened), so no probe is needed.
    public func assumeConditionalWrites(_ recorded: S3ConditionalWrites) {
        conditional.withLock { $0 = .known(recorded) }
    }

    func conditionalWrites() async throws -> S3ConditionalWrites {
        let task = conditional.withLock { state -> Task<S3ConditionalWrites, any Error>? in
            switch state {
            case .known: return nil
            case let .probing(task): return task
            case .unknown:
                let task = Task { try await self.runProbe() }
                state = .probing(task)
                return task
            }
        }
        guard let task else { return knownConditionalWrites! }
        do {
            let result = try await task.value
            conditional.withLock { $0 = .known(result) }
            return result
        } catch {
            conditional.withLock { state in
                if case .probing = state { state = .unknown }
            }
            throw error
        }
    }

    private func runProbe() async throws -> S3ConditionalWrites {
        let name = ".ferry-probe-\(String(UInt64.random(in: 0...UInt64.max), radix: 16))"
        let key = keyPrefix + name
        func probePut(_ byte: UInt8) async throws -> HTTPResponse {
            let body: [UInt8] = Array("ferry conditional-write probe \(byte)\n".utf8)
            let digest = Hash.sha256(body)
            var headers = HTTPHeaders()
            headers.add("If-None-Match", "*")
            headers.add("x-amz-checksum-sha256", ByteText.base64(digest))
            return try await send(
                S3Request(
                    method: .put, key: key, headers: headers, body: body[...], payloadHash: ByteText.hex(digest), operation: "PUT",
                    name: name))
        }
        let first = try await probePut(1)
        guard first.isSuccess else {
            let error = S3ErrorResponse(first)
            if error.code == "NotImplemented" || first.status == 501 { return .ignored }
            throw error.storeError(operation: "PUT (conditional-write probe)", name: name, store: self)
        }
        defer {
            Task { try? await self.deleteBatch([key]) }
        }
        let second = try await probePut(2)
        if second.status == 412 { return .honoured }
        if second.isSuccess { return .ignored }
        throw S3ErrorResponse(second).storeError(operation: "PUT (conditional-write probe)", name: name, store: self)
    }

    // MARK: - Helpers

    /// The existing object under a create-only name: identical content is success, different
    /// content is `ObjectStoreError.alreadyExists`.
    func resolveExisting(name: String, key: String, bytes: [UInt8], sha256: [UInt8]) async throws -> PutOutcome {
        guard let existing = try await headObject(key: key, name: name) else {
            // It vanished between the refusal and the check (deleted by prune): write it again.
            return try await put(name, bytes, mode: .createOnly)
        }
        if existing.size != Int64(bytes.count) {
            throw ObjectStoreError.alreadyExists(name: name, store: location)
        }
        if let checksum = existing.checksumSHA256, !checksum.contains("-") {
            if checksum == ByteText.base64(sha256) { return .alreadyExists }
            throw ObjectStoreError.alreadyExists(name: name, store: location)
        }
        if let etag = existing.etag, etag.count == 32, etag.allSatisfy(\.isHexDigit) {
            if etag.lowercased() == ByteText.hex(Hash.md5(bytes)) { return .alreadyExists }
            throw ObjectStoreError.alreadyExists(name: name, store: location)
        }
        if let checksum = existing.checksumSHA256, checksum == multipartChecksum(bytes) {
            return .alreadyExists
        }
        // No usable checksum (a multipart ETag, encryption): compare the bytes themselves.
        if try await get(name) == bytes { return .alreadyExists }
        throw ObjectStoreError.alreadyExists(name: name, store: location)
    }

    struct HeadResult {
        var size: Int64
        var etag: String?
        var checksumSHA256: String?
    }

    func headObject(key: String, name: String) async throws -> HeadResult? {
        var headers = HTTPHeaders()
        headers.add("x-amz-checksum-mode", "ENABLED")
        let response = try await send(S3Request(method: .head, key: key, headers: headers, operation: "HEAD", name: name))
        if response.status == 404 {
            try await checkBucketOnce()
            return nil
        }
        guard response.isSuccess else {
            throw S3ErrorResponse(response).storeError(operation: "HEAD", name: name, store: self)
        }
        guard let size = response.headers["Content-Length"].flatMap({ Int64($0) }) else {
            throw ObjectStoreError.unavailable(store: location, detail: "HEAD \(name) returned no Content-Length")
        }
        var etag = response.headers["ETag"]
        etag = etag.map { String($0.filter { $0 != "\"" }) }
        return HeadResult(size: size, etag: etag, checksumSHA256: response.headers["x-amz-checksum-sha256"])
    }

    /// A 404 on HEAD does not say whether the object or the bucket is missing: ask about the
    /// bucket once, so a missing bucket is reported as such.
    private func checkBucketOnce() async throws {
        guard !bucketChecked.load(ordering: .relaxed) else { return }
        try await checkBucket()
        bucketChecked.store(true, ordering: .relaxed)
    }

    /// Fails with a clear error when the bucket is missing or the credentials are refused.
    public func checkBucket() async throws {
        let response = try await send(S3Request(method: .head, key: nil, operation: "HEAD bucket", name: nil))
        if response.isSuccess { return }
        if response.status == 404 {
            throw ObjectStoreError.missingStore(
                store: location, detail: "bucket \"\(configuration.bucket)\" does not exist at \(endpointDescription)")
        }
        throw S3ErrorResponse(response).storeError(operation: "HEAD bucket", name: nil, store: self)
    }

    private func deleteBatch(_ keys: [String]) async throws {
        guard !keys.isEmpty else { return }
        var xml = "<Delete xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><Quiet>true</Quiet>"
        for key in keys { xml += "<Object><Key>\(S3XML.escape(key))</Key></Object>" }
        xml += "</Delete>"
        let response = try await send(.xml(method: .post, key: nil, query: [("delete", "")], xml, operation: "DELETE", name: nil))
        if response.status == 501 || S3ErrorResponse(response).code == "NotImplemented" {
            for key in keys { try await deleteOne(key) }
            return
        }
        guard response.isSuccess else {
            throw S3ErrorResponse(response).storeError(operation: "DELETE", name: nil, store: self)
        }
        let document = try? S3XML.parse(response.body)
        if document?.name == "Error" {
            throw S3ErrorResponse(response).storeError(operation: "DELETE", name: nil, store: self)
        }
        let failures = document?.all("Error").filter { $0.text("Code") != "NoSuchKey" } ?? []
        if let first = failures.first {
            let name = first.text("Key").map { String($0.dropFirst(keyPrefix.count)) } ?? "?"
            let code = first.text("Code") ?? "?"
            let detail = "DELETE of \(failures.count) object(s) failed, first \(name): \(code): \(first.text("Message") ?? "")"
            if code == "AccessDenied" { throw ObjectStoreError.accessDenied(store: location, detail: detail) }
            throw ObjectStoreError.unavailable(store: location, detail: detail)
        }
    }

    private func deleteOne(_ key: String) async throws {
        let name = String(key.dropFirst(keyPrefix.count))
        let response = try await send(S3Request(method: .delete, key: key, operation: "DELETE", name: name))
        if response.isSuccess || response.status == 404 { return }
        throw S3ErrorResponse(response).storeError(operation: "DELETE", name: name, store: self)
    }

    func objectKey(_ name: String) throws -> String {
        let key = keyPrefix + name
        guard !name.isEmpty, !name.hasPrefix("/"), key.utf8.count <= 1024,
            !name.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7F })
        else {
            throw ObjectStoreError.io(store: location, detail: "invalid object name \"\(name)\"")
        }
        return key
    }

    func storageClass(for name: String) -> String? {
        configuration.storageClasses.filter { name.hasPrefix($0.prefix) }.max { $0.prefix.count < $1.prefix.count }?.storageClass
    }

    /// Why a whole-object download does not match what was stored, or nil when it does.
    static func integrityProblem(_ response: HTTPResponse) -> String? {
        if let length = response.headers["Content-Length"].flatMap({ Int($0) }), length != response.body.count {
            return "received \(response.body.count) bytes of \(length)"
        }
        if let checksum = response.headers["x-amz-checksum-sha256"], !checksum.contains("-") {
            if ByteText.base64(Hash.sha256(response.body)) != checksum {
                return "SHA-256 of the received bytes does not match the stored checksum"
            }
            return nil
        }
        if let etag = response.headers["ETag"].map({ String($0.filter { $0 != "\"" }) }), etag.count == 32,
            etag.allSatisfy(\.isHexDigit), response.headers["x-amz-server-side-encryption"] == nil
        {
            if ByteText.hex(Hash.md5(response.body)) != etag.lowercased() {
                return "MD5 of the received bytes does not match the ETag"
            }
        }
        return nil
    }

    static func percentDecode(_ text: String) -> String {
        var bytes: [UInt8] = []
        var iterator = Array(text.utf8).makeIterator()
        while let byte = iterator.next() {
            if byte == UInt8(ascii: "%"), let high = iterator.next(), let low = iterator.next(),
                let value = UInt8(String(decoding: [high, low], as: UTF8.self), radix: 16)
            {
                bytes.append(value)
            } else if byte == UInt8(ascii: "+") {
                bytes.append(UInt8(ascii: " "))
            } else {
                bytes.append(byte)
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}
