import FerryKube
import Foundation

extension APIServerState {
    /// `GET /openapi/v3` (the index) and `/openapi/v3/<group-version>` as kube-openapi's handler
    /// serves them: JSON only (no protobuf), an `Etag` of the document's hash, a 301 to the
    /// current URL when the `hash` asked for is stale, `Cache-Control: public, immutable` when it
    /// is current, 304 for a matching `If-None-Match`. `GET /openapi/v2`: the same documents as
    /// one swagger 2.0 document, in gnostic protobuf when asked for (as kubectl asks), else JSON.
    func openAPI(_ request: APIRequest, segments: [String]) -> APIResponse {
        guard segments.count >= 2, ["v2", "v3"].contains(segments[1]) else { return .status(Self.notFoundPath) }
        guard request.method == "GET" else { return methodNotAllowed(request) }
        let definitions: OpenAPIDefinitions
        switch OpenAPIDefinitions.builtin {
        case .success(let loaded): definitions = loaded
        case .failure(let error): return .status(APIStatus(code: 500, reason: "InternalError", message: "\(error)"))
        }
        if segments[1] == "v2" {
            guard segments.count == 2 else { return .status(Self.notFoundPath) }
            let swagger = openAPIPublisher.swagger(registry: registry, definitions: definitions)
            let headers = [("Etag", "\"\(swagger.hash)\""), ("Vary", "Accept")]
            if request.headers["if-none-match"] == "\"\(swagger.hash)\"" {
                return .body(status: 304, contentType: "", body: [], headers: headers)
            }
            // The deprecated `@v1.0` form is accepted but never sent: Go's mime parser refuses it.
            if Self.swaggerProtobufTypes.contains(where: { request.accept.contains($0) }) {
                return .body(status: 200, contentType: Self.swaggerProtobufTypes[1], body: swagger.protobuf, headers: headers)
            }
            guard Self.acceptsJSON(request.accept) else { return .text(406, "") }
            return .body(status: 200, contentType: "application/json", body: swagger.json, headers: headers)
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

    static let swaggerProtobufTypes = [
        "application/com.github.proto-openapi.spec.v2@v1.0+protobuf", "application/com.github.proto-openapi.spec.v2.v1.0+protobuf",
    ]

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
