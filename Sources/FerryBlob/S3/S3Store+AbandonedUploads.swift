import FerryHTTP
import Foundation

extension S3Store {
    /// Aborts the incomplete multipart uploads under the store's prefix that were initiated
    /// before `cutoff` (a writer killed mid-upload, or a CreateMultipartUpload whose answer was
    /// lost and retried): their parts are invisible to readers but billed until aborted.
    public func removeAbandonedWrites(startedBefore cutoff: Date) async throws -> AbandonedWrites {
        var removed = AbandonedWrites()
        for upload in try await incompleteUploads() where upload.initiated < cutoff {
            let name = String(upload.key.dropFirst(keyPrefix.count))
            let response = try await send(
                S3Request(
                    method: .delete, key: upload.key, query: [("uploadId", upload.id)], operation: "AbortMultipartUpload", name: name))
            let error = response.isSuccess ? nil : S3ErrorResponse(response)
            if let error, error.code != "NoSuchUpload" {
                throw error.storeError(operation: "AbortMultipartUpload", name: name, store: self)
            }
            removed.count += 1
        }
        return removed
    }

    struct IncompleteUpload: Sendable {
        var key: String
        var id: String
        var initiated: Date
    }

    /// ListMultipartUploads under the store's prefix, every page.
    func incompleteUploads() async throws -> [IncompleteUpload] {
        var found: [IncompleteUpload] = []
        try await forEachMarkerPage(
            query: [("uploads", ""), ("prefix", keyPrefix)], operation: "ListMultipartUploads", secondMarker: "upload-id-marker",
            nextSecondMarker: "NextUploadIdMarker"
        ) { document, decode in
            for upload in document.all("Upload") {
                guard let rawKey = upload.text("Key"), let id = upload.text("UploadId"),
                    let initiated = upload.text("Initiated").flatMap(Self.parseTimestamp)
                else { continue }
                let key = decode(rawKey)
                guard key.hasPrefix(keyPrefix) else { continue }
                found.append(IncompleteUpload(key: key, id: id, initiated: initiated))
            }
        }
        return found
    }

    /// Pages through a bucket listing that continues with `key-marker` and a second marker
    /// (`upload-id-marker`, `version-id-marker`), calling `body` with each page and a function
    /// that decodes its URL-encoded keys.
    func forEachMarkerPage(
        query: [(String, String)], operation: String, name: String? = nil, secondMarker: String, nextSecondMarker: String,
        _ body: (XMLElement, (String) -> String) throws -> Void
    ) async throws {
        var markers: (key: String, second: String)?
        repeat {
            var pageQuery = query + [("encoding-type", "url")]
            if let markers { pageQuery += [("key-marker", markers.key), (secondMarker, markers.second)] }
            let document = try await bucketDocument(query: pageQuery, operation: operation, name: name)
            let urlEncoded = document.text("EncodingType") == "url"
            let decode: (String) -> String = { urlEncoded ? Self.percentDecode($0) : $0 }
            try body(document, decode)
            if document.text("IsTruncated") == "true" {
                guard let key = document.text("NextKeyMarker"), !key.isEmpty else {
                    throw ObjectStoreError.unavailable(
                        store: location, detail: "\(operation) page was truncated but carried no NextKeyMarker")
                }
                let next = (key: decode(key), second: document.text(nextSecondMarker) ?? "")
                if let markers, markers == next { break } // a server that does not advance: stop rather than loop
                markers = next
            } else {
                markers = nil
            }
        } while markers != nil
    }

    /// S3's timestamps: ISO 8601 in UTC, with or without fractional seconds.
    static func parseTimestamp(_ text: String) -> Date? {
        let fractional = ISO8601DateFormatter()
        fractional.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        if let date = fractional.date(from: text) { return date }
        return ISO8601DateFormatter().date(from: text)
    }
}
