/// A `Status` object (`kind: Status`) as the API server returns it for failed requests.
public struct APIStatus: Sendable, Hashable, CustomStringConvertible {
    /// One `details.causes` entry (a field-level validation failure of a 422, say).
    public struct Cause: Sendable, Hashable {
        public var reason: String
        public var message: String
        public var field: String

        public init(reason: String, message: String, field: String) {
            self.reason = reason
            self.message = message
            self.field = field
        }
    }

    public var code: Int
    /// Machine-readable reason (`NotFound`, `AlreadyExists`, `Conflict`, `Expired`, `Forbidden`,
    /// `Invalid`, `TooManyRequests`, ...), empty when the body had none.
    public var reason: String
    public var message: String
    public var detailsName: String?
    public var detailsGroup: String?
    public var detailsKind: String?
    public var causes: [Cause]
    public var retryAfterSeconds: Int?

    public init(
        code: Int, reason: String, message: String, detailsName: String? = nil, detailsGroup: String? = nil,
        detailsKind: String? = nil, causes: [Cause] = [], retryAfterSeconds: Int? = nil
    ) {
        self.code = code
        self.reason = reason
        self.message = message
        self.detailsName = detailsName
        self.detailsGroup = detailsGroup
        self.detailsKind = detailsKind
        self.causes = causes
        self.retryAfterSeconds = retryAfterSeconds
    }

    /// Decodes a `Status` body; nil when `json` is not a Status object.
    public init?(json: JSONValue) {
        guard json["kind"]?.stringValue == "Status" || (json["status"]?.stringValue == "Failure" && json["code"] != nil)
        else { return nil }
        let details = json["details"]
        self.init(
            code: Int(json["code"]?.intValue ?? 0),
            reason: json["reason"]?.stringValue ?? "",
            message: json["message"]?.stringValue ?? "",
            detailsName: details?["name"]?.stringValue,
            detailsGroup: details?["group"]?.stringValue,
            detailsKind: details?["kind"]?.stringValue,
            causes: (details?["causes"]?.arrayValue ?? []).map {
                Cause(
                    reason: $0["reason"]?.stringValue ?? "", message: $0["message"]?.stringValue ?? "",
                    field: $0["field"]?.stringValue ?? "")
            },
            retryAfterSeconds: details?["retryAfterSeconds"]?.intValue.map { Int($0) })
    }

    /// The Status object's JSON form, as the API server writes it.
    public var json: JSONValue {
        var value: JSONValue = [
            "kind": "Status", "apiVersion": "v1", "metadata": [:], "status": "Failure",
            "message": .string(message), "reason": .string(reason), "code": .int(Int64(code)),
        ]
        var details: JSONValue = [:]
        if let detailsName { details["name"] = .string(detailsName) }
        if let detailsGroup, !detailsGroup.isEmpty { details["group"] = .string(detailsGroup) }
        if let detailsKind { details["kind"] = .string(detailsKind) }
        if !causes.isEmpty {
            details["causes"] = .array(
                causes.map { ["reason": .string($0.reason), "message": .string($0.message), "field": .string($0.field)] })
        }
        if let retryAfterSeconds { details["retryAfterSeconds"] = .int(Int64(retryAfterSeconds)) }
        if details.objectValue?.isEmpty == false { value["details"] = details }
        if reason.isEmpty { value["reason"] = nil }
        return value
    }

    public var description: String {
        var text = message.isEmpty ? "HTTP \(code) \(reason)" : message
        if !causes.isEmpty, !causes.allSatisfy({ text.contains($0.message) }) {
            text += " (" + causes.map { $0.field.isEmpty ? $0.message : "\($0.field): \($0.message)" }.joined(separator: "; ") + ")"
        }
        return text
    }
}
