import FerryDigest
import FerryHTTP
import Foundation

extension S3Store: VersionedObjectStore {
    public func objectLockEnabled() async throws -> Bool {
        let response = try await send(
            S3Request(
                method: .get, key: nil, query: [("object-lock", "")],
                operation: "GetObjectLockConfiguration", name: nil))
        if response.isSuccess {
            guard let document = try? S3XML.parse(response.body) else {
                throw ObjectStoreError.unavailable(store: location, detail: "GetObjectLockConfiguration returned a body that is not XML")
            }
            return document.text("ObjectLockEnabled") == "Enabled"
        }
        let error = S3ErrorResponse(response)
        if error.code == "ObjectLockConfigurationNotFoundError" { return false }
        throw error.storeError(operation: "GetObjectLockConfiguration", name: nil, store: self)
    }

    public func listVersions(prefix: String) async throws -> [ObjectVersion] {
        var found: [ObjectVersion] = []
        let query = [("versions", ""), ("prefix", keyPrefix + prefix), ("max-keys", String(min(1000, max(1, configuration.listPageSize))))]
        try await forEachMarkerPage(
            query: query, operation: "ListObjectVersions", name: prefix.isEmpty ? nil : prefix + "*", secondMarker: "version-id-marker",
            nextSecondMarker: "NextVersionIdMarker"
        ) { document, decode in
            for entry in document.children where entry.name == "Version" || entry.name == "DeleteMarker" {
                guard let rawKey = entry.text("Key"), let version = entry.text("VersionId"),
                    let modified = entry.text("LastModified").flatMap(Self.parseTimestamp)
                else { continue }
                let key = decode(rawKey)
                guard key.hasPrefix(keyPrefix) else { continue }
                found.append(
                    ObjectVersion(
                        name: String(key.dropFirst(keyPrefix.count)), version: version, isDeleteMarker: entry.name == "DeleteMarker",
                        isLatest: entry.text("IsLatest") == "true", lastModified: modified,
                        size: entry.text("Size").flatMap { Int64($0) } ?? 0))
            }
        }
        return found
    }

    public func get(_ name: String, version: String, range: Range<Int64>?) async throws -> [UInt8] {
        if let range { return try await get(name, range: range, version: version) }
        return try await get(name, version: version)
    }

    public func retention(of name: String, version: String?) async throws -> ObjectRetention? {
        let key = try objectKey(name)
        let response = try await send(
            S3Request(
                method: .head, key: key, query: version.map { [("versionId", $0)] } ?? [], operation: "HEAD", name: name))
        guard response.isSuccess else {
            throw S3ErrorResponse(response).storeError(operation: "HEAD", name: name, store: self)
        }
        guard let modeText = response.headers["x-amz-object-lock-mode"],
            let untilText = response.headers["x-amz-object-lock-retain-until-date"]
        else {
            return nil
        }
        guard let mode = ObjectLockMode(rawValue: modeText.uppercased()), let until = Self.parseTimestamp(untilText) else {
            throw ObjectStoreError.unavailable(
                store: location,
                detail: "HEAD \(name) returned an unknown lock: \(modeText) until \(untilText)")
        }
        return ObjectRetention(mode: mode, until: until)
    }

    public func extendRetention(of name: String, to retention: ObjectRetention) async throws {
        let key = try objectKey(name)
        let xml =
            "<Retention xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><Mode>\(retention.mode.rawValue)</Mode>"
            + "<RetainUntilDate>\(Self.lockDate(retention.until))</RetainUntilDate></Retention>"
        let response = try await send(
            .xml(method: .put, key: key, query: [("retention", "")], xml, operation: "PutObjectRetention", name: name))
        guard response.isSuccess else {
            throw S3ErrorResponse(response).storeError(operation: "PutObjectRetention", name: name, store: self)
        }
    }

    public func deleteVersion(of name: String, version: String) async throws {
        let key = try objectKey(name)
        let response = try await send(
            S3Request(
                method: .delete, key: key, query: [("versionId", version)], operation: "DELETE version",
                name: name))
        if response.isSuccess || response.status == 404 { return }
        throw S3ErrorResponse(response).storeError(operation: "DELETE version \(version) of", name: name, store: self)
    }

    public func lockNewObjects(_ rule: RetentionRule?) {
        retentionRule.withLock { $0 = rule }
    }

    /// The Object Lock headers for a new object named `name`, when the rule locks it: mode,
    /// retain-until date, and the Content-MD5 S3 requires on such uploads.
    func lockHeaders(for name: String, body: ArraySlice<UInt8>?) -> HTTPHeaders? {
        guard let rule = retentionRule.withLock({ $0 }), rule.applies(to: name) else { return nil }
        var headers = HTTPHeaders()
        headers.add("x-amz-object-lock-mode", rule.mode.rawValue)
        headers.add("x-amz-object-lock-retain-until-date", Self.lockDate(configuration.clock().addingTimeInterval(rule.period)))
        if let body { headers.add("Content-MD5", ByteText.base64(Hash.md5(body))) }
        return headers
    }

    /// A retain-until date as S3 takes it, rounded up to the second (never shorter than asked).
    static func lockDate(_ date: Date) -> String {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime]
        return formatter.string(from: Date(timeIntervalSince1970: date.timeIntervalSince1970.rounded(.up)))
    }
}
