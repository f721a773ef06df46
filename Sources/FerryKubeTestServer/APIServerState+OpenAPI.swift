import FerryKube
import Foundation

extension APIServerState {
    /// `GET /openapi/v3` (the index) and `/openapi/v3/<group-version>` as kube-openapi's handler
    /// serves them: JSON only (no protobuf), an `Etag` of the document's hash, a 301 to the
    /// current URL when the `hash` asked for is stale, `Cache-Control: public, immutable` when it
    /// is current, 304 for a matching `If-None-Match`. `/openapi/v2` is not served (404): the real
    /// clients use v3 and fall back to v2 only when v3 fails.
    func openAPI(_ request: APIRequest, segments: [String]) -> APIResponse {
        guard segments.count >= 2, segments[1] == "v3" else { return .status(Self.notFoundPath) }
        guard request.method == "GET" else { return methodNotAllowed(request) }
        let definitions: OpenAPIDefinitions
        switch OpenAPIDefinitions.builtin {
        case .success(let loaded): definitions = loaded
        case .failure(let error): return .status(APIStatus(code: 500, reason: "InternalError", message: "\(error)"))
        }
        if segments.count == 2 {
            return .json(200, openAPIPublisher.index(registry: registry, definitions: definitions))
        }
        guard let groupVersion = OpenAPIPublisher.groupVersion(key: segments.dropFirst(2).joined(separator: "/")),
            registry.isServed(group: groupVersion.group, version: groupVersion.version)
        else { return .text(404, "404 page not found\n") }
        guard Self.acceptsJSON(request.accept) else { return .text(406, "") }
        let rendered = openAPIPublisher.document(groupVersion, registry: registry, definitions: definitions)
        var headers = [("Etag", "\"\(rendered.hash)\""), ("Vary", "Accept")]
        if let hash = request.query["hash"], !hash.isEmpty {
            let current = OpenAPIPublisher.url(groupVersion, hash: rendered.hash)
            if hash != rendered.hash {
                let body = "<a href=\"\(current.replacingOccurrences(of: "&", with: "&amp;"))\">Moved Permanently</a>.\n\n"
                return .body(status: 301, contentType: "text/html; charset=utf-8", body: Array(body.utf8), headers: [("Location", current)])
            }
            headers += [("Cache-Control", "public, immutable"), ("Expires", Self.httpDate(Date().addingTimeInterval(365 * 86400)))]
        }
        if request.headers["if-none-match"] == "\"\(rendered.hash)\"" {
            return .body(status: 304, contentType: "", body: [], headers: headers)
        }
        return .body(status: 200, contentType: "application/json", body: rendered.bytes, headers: headers)
    }

    static func acceptsJSON(_ accept: String) -> Bool {
        guard !accept.isEmpty else { return true }
        return accept.split(separator: ",").contains { clause in
            let type = clause.split(separator: ";").first.map { String($0).trimmingCharacters(in: " ") } ?? ""
            return ["application/json", "application/*", "*/*"].contains(type)
        }
    }

    /// RFC 1123 with GMT, as Go's `time.RFC1123` prints UTC times for HTTP headers.
    static func httpDate(_ date: Date) -> String {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "GMT")
        formatter.dateFormat = "EEE, dd MMM yyyy HH:mm:ss 'GMT'"
        return formatter.string(from: date)
    }
}
