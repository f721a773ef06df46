import FerryKube

extension APIServerState {
    /// `fieldValidation` on create, update and patch: `Strict` refuses unknown and duplicate
    /// fields with the real errors, `Warn` (the default since 1.23) names each in a `Warning`
    /// header, `Ignore` says nothing; unknown fields are dropped in every case.
    enum FieldValidationDirective: String {
        case strict = "Strict"
        case warn = "Warn"
        case ignore = "Ignore"
    }

    func fieldValidationDirective(_ request: APIRequest, options: String) throws(APIError) -> FieldValidationDirective {
        let raw = request.query["fieldValidation"] ?? ""
        if raw.isEmpty { return .warn }
        guard let directive = FieldValidationDirective(rawValue: raw) else {
            let message = "Unsupported value: \"\(raw)\": supported values: \"Ignore\", \"Warn\", \"Strict\""
            throw APIError(
                APIStatus(
                    code: 422, reason: "Invalid", message: "\(options).meta.k8s.io \"\" is invalid: fieldValidation: \(message)",
                    detailsGroup: "meta.k8s.io", detailsKind: options,
                    causes: [.init(reason: "FieldValueNotSupported", message: message, field: "fieldValidation")]))
        }
        return directive
    }

    var fieldValidator: FieldValidator? {
        (try? OpenAPIDefinitions.builtin.get()).map { FieldValidator(definitions: $0) }
    }

    /// The built-in kind's definition name, nil for custom resources and kinds without one.
    func definitionName(_ entry: ResourceRegistry.Entry) -> String? {
        guard !entry.isCustom, let validator = fieldValidator else { return nil }
        let r = entry.resource
        return validator.definitions.name(of: .init(group: r.group, version: r.version, kind: r.kind))
    }

    /// Unknown and duplicate fields of an object written through the main resource or status.
    func fieldProblems(_ r: ResourceRequest, document: OrderedJSON, object: JSONValue) -> [String] {
        guard let validator = fieldValidator, r.subresource == nil || r.subresource == "status" else { return [] }
        if r.entry.isCustom {
            guard let schema = r.entry.schema else { return validator.duplicates(document) }
            return validator.customProblems(document, object: object, schema: schema)
        }
        guard let definition = definitionName(r.entry) else { return validator.duplicates(document) }
        return validator.builtinProblems(document, definition: definition)
    }

    /// The body as the decoder walked it (protobuf bodies are not checked: nil).
    func orderedBody(_ request: APIRequest, _ object: JSONValue) -> OrderedJSON? {
        if request.contentType == "application/vnd.kubernetes.protobuf" { return nil }
        return OrderedJSON(parsing: request.body) ?? OrderedJSON(object)
    }

    /// Create and update: Strict answers 400 `Deployment in version "v1" cannot be handled as a
    /// Deployment: strict decoding error: unknown field "spec.x"`, as the decoder's error does.
    func checkFields(_ request: APIRequest, _ r: ResourceRequest, _ object: JSONValue) throws(APIError) -> [(String, String)] {
        let directive = try fieldValidationDirective(request, options: request.method == "POST" ? "CreateOptions" : "UpdateOptions")
        guard directive != .ignore, let document = orderedBody(request, object) else { return [] }
        let problems = fieldProblems(r, document: document, object: object)
        guard !problems.isEmpty else { return [] }
        guard directive == .strict else { return Self.warnings(problems) }
        let kind = object["kind"]?.stringValue.flatMap { $0.isEmpty ? nil : $0 } ?? r.entry.resource.kind
        let version = object["apiVersion"].flatMap(\.stringValue).map { GroupVersion(apiVersion: $0).version } ?? r.entry.resource.version
        throw APIError(
            Self.badRequest(
                "\(kind) in version \"\(version)\" cannot be handled as a \(r.entry.resource.kind): strict decoding error: "
                    + problems.joined(separator: ", ")))
    }

    /// Merge, JSON and strategic merge patches: the patch's duplicate fields (not for JSON
    /// patches), then the patched object's unknown fields; Strict answers the patcher's 422
    /// (`"" is invalid: patch: Invalid value: "...": strict decoding error: ...`), whose value is
    /// the patched object's JSON, or for a strategic merge patch Go's `%+v` of the patch.
    func checkPatchedFields(
        _ request: APIRequest, _ r: ResourceRequest, patch: JSONValue, patched: JSONValue
    ) throws(APIError) -> [(String, String)] {
        let directive = try fieldValidationDirective(request, options: "PatchOptions")
        guard directive != .ignore, let validator = fieldValidator else { return [] }
        var problems: [String] = []
        if request.contentType != "application/json-patch+json", let document = OrderedJSON(parsing: request.body) {
            problems += validator.duplicates(document)
        }
        problems += fieldProblems(r, document: OrderedJSON(patched), object: patched).filter { !$0.hasPrefix("duplicate") }
        guard !problems.isEmpty else { return [] }
        guard directive == .strict else { return Self.warnings(problems) }
        let value =
            request.contentType == "application/strategic-merge-patch+json"
            ? GoFormat.value(patch) : String(decoding: patched.serialized(), as: UTF8.self)
        let message = "Invalid value: \(GoFormat.quoted(value)): strict decoding error: \(problems.joined(separator: ", "))"
        throw APIError(
            APIStatus(
                code: 422, reason: "Invalid", message: " \"\" is invalid: patch: \(message)", detailsName: "", detailsKind: "",
                causes: [.init(reason: "FieldValueInvalid", message: message, field: "patch")]))
    }

    /// Server-side apply: fields the kind's schema does not declare fail the typed conversion
    /// whatever `fieldValidation` says (kube-apiserver answers 500, its error not being a
    /// Status); duplicate keys are what the strict YAML decoding then reports.
    func checkAppliedFields(_ request: APIRequest, _ r: ResourceRequest, patch: JSONValue) throws(APIError) -> [(String, String)] {
        let directive = try fieldValidationDirective(request, options: "PatchOptions")
        guard let validator = fieldValidator, r.subresource == nil || r.subresource == "status" else { return [] }
        let undeclared = validator.undeclaredFields(
            patch, definition: definitionName(r.entry), customSchema: r.entry.isCustom ? r.entry.schema : nil)
        if !undeclared.isEmpty, r.entry.isCustom ? r.entry.schema != nil : definitionName(r.entry) != nil {
            let gv = GroupVersion(apiVersion: patch["apiVersion"]?.stringValue ?? r.entry.resource.apiVersion)
            let object =
                "\(patch["metadata"]?["namespace"]?.stringValue ?? "")/\(patch["metadata"]?["name"]?.stringValue ?? ""); "
                + "\(gv.group)/\(gv.version), Kind=\(patch["kind"]?.stringValue ?? r.entry.resource.kind)"
            let errors = undeclared.map { "\($0): field not declared in schema" }
            let text = errors.count == 1 ? errors[0] : (["errors:"] + errors.map { "  " + $0 }).joined(separator: "\n")
            throw APIError(APIStatus(code: 500, reason: "", message: "failed to create typed patch object (\(object)): \(text)"))
        }
        guard directive != .ignore, let document = OrderedJSON(parsing: request.body) else { return [] }
        let lines = Self.duplicateKeyLines(document, body: request.body)
        guard !lines.isEmpty else { return [] }
        let error = "error converting YAML to JSON: yaml: unmarshal errors:\n" + lines.joined(separator: "\n")
        guard directive == .strict else { return Self.warnings([error]) }
        throw APIError(Self.badRequest("error strict decoding YAML: \(error)"))
    }

    /// yaml.v2's strict errors for keys set twice in a mapping: `  line N: key "x" already set in map`.
    static func duplicateKeyLines(_ document: OrderedJSON, body: [UInt8]) -> [String] {
        var lines: [String] = []
        func visit(_ node: OrderedJSON) {
            switch node {
            case .object(let members):
                var seen: Set<String> = []
                for member in members {
                    if !seen.insert(member.name).inserted {
                        let line = body[..<member.offset].reduce(1) { $0 + ($1 == 0x0A ? 1 : 0) }
                        lines.append("  line \(line): key \(GoFormat.quoted(member.name)) already set in map")
                    }
                    visit(member.value)
                }
            case .array(let items):
                items.forEach(visit)
            case .scalar:
                break
            }
        }
        visit(document)
        return lines
    }

    /// `Warning: 299 - "text"` headers (only `"` and `\\` escaped; a text that is not printable
    /// is not sent, as client-go's warning header writer refuses it).
    static func warnings(_ problems: [String]) -> [(String, String)] {
        problems.filter { !$0.unicodeScalars.contains { $0.value < 0x20 && $0 != "\t" } }.map { text in
            let escaped = text.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"")
            return ("Warning", "299 - \"\(escaped)\"")
        }
    }
}
