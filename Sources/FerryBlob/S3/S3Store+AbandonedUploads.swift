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
            let response = try await send(S3Request(
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
        var markers: (key: String, upload: String)?
        repeat {
            var query: [(String, String)] = [("uploads", ""), ("prefix", keyPrefix), ("encoding-type", "url")]
            if let markers { query += [("key-marker", markers.key), ("upload-id-marker", markers.upload)] }
            let document = try await bucketDocument(query: query, operation: "ListMultipartUploads")
            let urlEncoded = document.text("EncodingType") == "url"
            for upload in document.all("Upload") {
                guard let rawKey = upload.text("Key"), let id = upload.text("UploadId"),
                      let initiated = upload.text("Initiated").flatMap(Self.parseTimestamp) else { continue }
                let key = urlEncoded ? Self.percentDecode(rawKey) : rawKey
                guard key.hasPrefix(keyPrefix) else { continue }
                found.append(IncompleteUpload(key: key, id: id, initiated: initiated))
            }
            if document.text("IsTruncated") == "true" {
                guard let key = document.text("NextKeyMarker"), !key.isEmpty else {
                    throw ObjectStoreError.unavailable(store: location, detail: "ListMultipartUploads page was truncated but carried no NextKeyMarker")
                }
                let next = (key: urlEncoded ? Self.percentDecode(key) : key, upload: document.text("NextUploadIdMarker") ?? "")
                if let markers, markers == next { break }  // a server that does not advance: stop rather than loop
                markers = next
            } else {
                markers = nil
            }
        } while markers != nil
        return found
    }

    /// S3's timestamps: ISO 8601 in UTC, with or without fractional seconds.
    static func parseTimestamp(_ text: String) -> Date? {
        let fractional = ISO8601DateFormatter()
        fractional.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        if let date = fractional.date(from: text) { return date }
        return ISO8601DateFormatter().date(from: text)
    }
}
