import FerryDigest
import FerryHTTP

extension S3Store {
    /// Uploads a large object in parts, `multipartConcurrency` at a time, each with its own
    /// SHA-256 checksum; a create-only upload is completed with `If-None-Match: *`. A failed
    /// upload is aborted so its parts do not linger.
    func multipartPut(name: String, key: String, bytes: [UInt8], mode: PutMode) async throws -> PutOutcome {
        var useCondition = false
        if mode == .createOnly {
            // Checking first saves uploading every part of an object that is already there.
            if try await headObject(key: key, name: name) != nil {
                return try await resolveExisting(name: name, key: key, bytes: bytes, sha256: Hash.sha256(bytes))
            }
            useCondition = try await conditionalWrites() == .honoured
        }

        var headers = HTTPHeaders()
        headers.add("Content-Type", "application/octet-stream")
        headers.add("x-amz-checksum-algorithm", "SHA256")
        if let storageClass = storageClass(for: name) { headers.add("x-amz-storage-class", storageClass) }
        let locked = lockHeaders(for: name, body: nil)
        for (header, value) in locked ?? [:] { headers.add(header, value) }
        let created = try await send(
            S3Request(method: .post, key: key, query: [("uploads", "")], headers: headers, operation: "CreateMultipartUpload", name: name))
        guard created.isSuccess else {
            throw S3ErrorResponse(created).storeError(operation: "CreateMultipartUpload", name: name, store: self)
        }
        guard let uploadID = (try? S3XML.parse(created.body))?.text("UploadId"), !uploadID.isEmpty else {
            throw ObjectStoreError.unavailable(store: location, detail: "CreateMultipartUpload for \(name) returned no UploadId")
        }

        do {
            let parts = try await uploadParts(name: name, key: key, uploadID: uploadID, bytes: bytes, locked: locked != nil)
            return try await completeMultipart(
                name: name, key: key, uploadID: uploadID, parts: parts, bytes: bytes, conditional: useCondition)
        } catch {
            _ = try? await send(
                S3Request(method: .delete, key: key, query: [("uploadId", uploadID)], operation: "AbortMultipartUpload", name: name))
            throw error
        }
    }

    struct UploadedPart: Sendable {
        var number: Int
        var etag: String
        var checksum: String
    }

    private func partRanges(_ count: Int) -> [Range<Int>] {
        let size = max(1, configuration.multipartPartSize)
        return stride(from: 0, to: count, by: size).map { $0..<min(count, $0 + size) }
    }

    private func uploadParts(name: String, key: String, uploadID: String, bytes: [UInt8], locked: Bool) async throws -> [UploadedPart] {
        let ranges = partRanges(bytes.count)
        guard ranges.count <= 10_000 else {
            throw ObjectStoreError.io(
                store: location, detail: "\(name) needs \(ranges.count) parts, more than S3's 10000; raise the part size")
        }
        return try await withThrowingTaskGroup(of: UploadedPart.self) { group in
            var next = 0
            var parts: [UploadedPart] = []
            func startNext() {
                let number = next + 1
                let range = ranges[next]
                next += 1
                group.addTask {
                    try await self.uploadPart(name: name, key: key, uploadID: uploadID, number: number, slice: bytes[range], locked: locked)
                }
            }
            while next < ranges.count && next < max(1, configuration.multipartConcurrency) { startNext() }
            while let part = try await group.next() {
                parts.append(part)
                if next < ranges.count { startNext() }
            }
            return parts.sorted { $0.number < $1.number }
        }
    }

    private func uploadPart(
        name: String, key: String, uploadID: String, number: Int, slice: ArraySlice<UInt8>, locked: Bool
    ) async throws -> UploadedPart {
        let digest = Hash.sha256(slice)
        let checksum = ByteText.base64(digest)
        var headers = HTTPHeaders()
        headers.add("x-amz-checksum-sha256", checksum)
        // Object Lock uploads need Content-MD5 on every part.
        if locked { headers.add("Content-MD5", ByteText.base64(Hash.md5(slice))) }
        let response = try await send(
            S3Request(
                method: .put, key: key, query: [("partNumber", String(number)), ("uploadId", uploadID)], headers: headers, body: slice,
                payloadHash: ByteText.hex(digest), operation: "UploadPart \(number)", name: name))
        guard response.isSuccess else {
            throw S3ErrorResponse(response).storeError(operation: "UploadPart \(number)", name: name, store: self)
        }
        guard let etag = response.headers["ETag"] else {
            throw ObjectStoreError.unavailable(store: location, detail: "UploadPart \(number) of \(name) returned no ETag")
        }
        if let returned = response.headers["x-amz-checksum-sha256"], returned != checksum {
            throw ObjectStoreError.corrupt(name: name, store: location, detail: "the server stored part \(number) with a different SHA-256")
        }
        return UploadedPart(number: number, etag: etag, checksum: checksum)
    }

    private func completeMultipart(
        name: String, key: String, uploadID: String, parts: [UploadedPart], bytes: [UInt8], conditional: Bool
    ) async throws -> PutOutcome {
        var xml = "<CompleteMultipartUpload xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
        for part in parts {
            xml += "<Part><PartNumber>\(part.number)</PartNumber><ETag>\(S3XML.escape(part.etag))</ETag>"
            xml += "<ChecksumSHA256>\(part.checksum)</ChecksumSHA256></Part>"
        }
        xml += "</CompleteMultipartUpload>"
        var headers = HTTPHeaders()
        if conditional { headers.add("If-None-Match", "*") }
        let response = try await send(
            .xml(
                method: .post, key: key, query: [("uploadId", uploadID)], xml, extra: headers, operation: "CompleteMultipartUpload",
                name: name))
        let document = try? S3XML.parse(response.body)
        // S3 can answer 200 and still report an error in the body.
        if response.isSuccess && document?.name != "Error" { return .created }
        let error = S3ErrorResponse(response)
        if response.status == 412 || error.code == "NoSuchUpload" {
            // Refused as existing, or a retry of a completion whose answer was lost.
            let outcome = try await resolveExisting(name: name, key: key, bytes: bytes, sha256: Hash.sha256(bytes))
            return error.code == "NoSuchUpload" ? .created : outcome
        }
        throw error.storeError(operation: "CompleteMultipartUpload", name: name, store: self)
    }

    /// The checksum S3 reports for a multipart object uploaded with this store's part size:
    /// base64 SHA-256 of the parts' SHA-256 digests, then "-" and the part count.
    func multipartChecksum(_ bytes: [UInt8]) -> String? {
        let ranges = partRanges(bytes.count)
        guard ranges.count > 1 else { return nil }
        var digests: [UInt8] = []
        for range in ranges { digests += Hash.sha256(bytes[range]) }
        return ByteText.base64(Hash.sha256(digests)) + "-\(ranges.count)"
    }
}
