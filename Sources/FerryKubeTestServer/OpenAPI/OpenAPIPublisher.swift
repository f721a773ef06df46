import Crypto
import FerryKube
import Synchronization

/// The server's OpenAPI v3 documents, rendered when first asked for and kept until the
/// resources of their group-version change (a CRD created, changed or deleted). Each carries
/// kube-openapi's ETag: the SHA-512 of its bytes in upper-case hex, which the index puts into the
/// document's `serverRelativeURL` (`/openapi/v3/apis/apps/v1?hash=...`) so clients that cache
/// by URL see a changed document as a new one.
struct OpenAPIPublisher {
    struct Rendered: Sendable {
        var document: JSONValue
        var bytes: [UInt8]
        var hash: String
    }

    /// The swagger 2.0 document, as JSON and as gnostic protobuf.
    struct Swagger: Sendable {
        var json: [UInt8]
        var protobuf: [UInt8]
        var hash: String
    }

    private var documents: [String: Rendered] = [:]
    private var swagger: Swagger?
    /// Documents of built-in group-versions are the same in every server of the process, and so
    /// is the swagger document while no CRD is defined.
    private static let builtin = Mutex<[String: Rendered]>([:])
    private static let builtinSwagger = Mutex<Swagger?>(nil)

    /// `api/v1`, `apis/apps/v1`: a group-version's key in the index and its document's path.
    static func key(_ groupVersion: GroupVersion) -> String { String(groupVersion.pathPrefix.dropFirst()) }

    static func groupVersion(key: String) -> GroupVersion? {
        let parts = key.split(separator: "/").map(String.init)
        switch (parts.first, parts.count) {
        case ("api", 2): return GroupVersion(group: "", version: parts[1])
        case ("apis", 3): return GroupVersion(group: parts[1], version: parts[2])
        default: return nil
        }
    }

    /// Forgets the documents that custom resources contribute to.
    mutating func resourcesChanged() {
        documents.removeAll()
        swagger = nil
    }

    /// The document of a served group-version.
    mutating func document(_ groupVersion: GroupVersion, registry: ResourceRegistry, definitions: OpenAPIDefinitions) -> Rendered {
        let key = Self.key(groupVersion)
        if let rendered = documents[key] { return rendered }
        let entries = registry.entries.filter { $0.resource.groupVersion == groupVersion }
        let builtinOnly = entries.allSatisfy { !$0.isCustom }
        if builtinOnly, let rendered = Self.builtin.withLock({ $0[key] }) { return rendered }
        let document = OpenAPIDocumentBuilder(definitions: definitions).document(groupVersion, entries: entries)
        let bytes = document.serialized()
        let rendered = Rendered(document: document, bytes: bytes, hash: Self.hash(bytes))
        if builtinOnly {
            Self.builtin.withLock { $0[key] = rendered }
        } else {
            documents[key] = rendered
        }
        return rendered
    }

    /// `GET /openapi/v3`: every served group-version with the URL of its current document.
    mutating func index(registry: ResourceRegistry, definitions: OpenAPIDefinitions) -> JSONValue {
        var paths: [String: JSONValue] = [:]
        let served = Set(registry.entries.map(\.resource.groupVersion))
        for groupVersion in served {
            let rendered = document(groupVersion, registry: registry, definitions: definitions)
            paths[Self.key(groupVersion)] = ["serverRelativeURL": .string(Self.url(groupVersion, hash: rendered.hash))]
        }
        return ["paths": .object(paths)]
    }

    /// `GET /openapi/v2`: every group-version's document merged and converted to swagger 2.0.
    mutating func swagger(registry: ResourceRegistry, definitions: OpenAPIDefinitions) -> Swagger {
        if let swagger { return swagger }
        let builtinOnly = registry.entries.allSatisfy { !$0.isCustom }
        if builtinOnly, let cached = Self.builtinSwagger.withLock({ $0 }) { return cached }
        let served = Set(registry.entries.map(\.resource.groupVersion)).sorted()
        let document = OpenAPIV2Converter.document(
            from: served.map { self.document($0, registry: registry, definitions: definitions).document })
        let json = document.serialized()
        let made = Swagger(json: json, protobuf: OpenAPIV2Protobuf.document(document), hash: Self.hash(json))
        if builtinOnly {
            Self.builtinSwagger.withLock { $0 = made }
        } else {
            swagger = made
        }
        return made
    }

    static func hash(_ bytes: [UInt8]) -> String { SHA512.hash(data: bytes).map { hex($0) }.joined() }

    static func url(_ groupVersion: GroupVersion, hash: String) -> String {
        "/openapi/v3/\(key(groupVersion))?hash=\(hash)"
    }

    static func hex(_ byte: UInt8) -> String {
        let digits = Array("0123456789ABCDEF")
        return String([digits[Int(byte >> 4)], digits[Int(byte & 0x0F)]])
    }
}
