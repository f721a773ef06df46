import FerryKube

/// How kube-apiserver publishes a CustomResourceDefinition version in OpenAPI v3
/// (apiextensions-apiserver's openapi builder): the version's structural schema named
/// `<reversed group>.<version>.<Kind>` (`dev.ferry.v1alpha1.Backup`) with apiVersion, kind and a
/// metadata reference to ObjectMeta added, and a `<Kind>List` schema beside it.
enum CustomResourceOpenAPI {
    static let objectMeta = "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"
    static let listMeta = "io.k8s.apimachinery.pkg.apis.meta.v1.ListMeta"
    static let conventions = "https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md"

    /// `ferry.dev`, `v1alpha1`, `Backup` → `dev.ferry.v1alpha1.Backup`.
    static func definitionName(group: String, version: String, kind: String) -> String {
        (group.split(separator: ".").reversed().map(String.init) + [version, kind]).joined(separator: ".")
    }

    /// The schema of a custom resource and of its list, by definition name.
    static func schemas(for resource: APIResource, schema: JSONValue?, definitions: OpenAPIDefinitions) -> [String: JSONValue] {
        let name = definitionName(group: resource.group, version: resource.version, kind: resource.kind)
        let listName = definitionName(group: resource.group, version: resource.version, kind: "\(resource.kind)List")
        let typeMeta = typeMetaProperties(definitions)
        var object: JSONValue = schema ?? ["type": "object"]
        if schema != nil {
            object.setValue(
                [
                    "allOf": [["$ref": .string(OpenAPIDefinitions.referencePrefix + objectMeta)]],
                    "description": .string("Standard object's metadata. More info: \(conventions)#metadata"),
                ],
                at: ["properties", "metadata"])
            for (key, value) in typeMeta { object.setValue(value, at: ["properties", key]) }
        }
        object["x-kubernetes-group-version-kind"] = [gvk(resource.group, resource.version, resource.kind)]
        var list: JSONValue = [
            "description": .string("\(resource.kind)List is a list of \(resource.kind)"),
            "properties": [
                "items": [
                    "description": .string("List of \(resource.name). More info: \(conventions)"),
                    "items": ["$ref": .string(OpenAPIDefinitions.referencePrefix + name)],
                    "type": "array",
                ],
                "metadata": [
                    "allOf": [["$ref": .string(OpenAPIDefinitions.referencePrefix + listMeta)]],
                    "description": .string("Standard list metadata. More info: \(conventions)#metadata"),
                ],
            ],
            "required": ["items"],
            "type": "object",
            "x-kubernetes-group-version-kind": [gvk(resource.group, resource.version, "\(resource.kind)List")],
        ]
        for (key, value) in typeMeta { list.setValue(value, at: ["properties", key]) }
        return [name: object, listName: list]
    }

    static func gvk(_ group: String, _ version: String, _ kind: String) -> JSONValue {
        ["group": .string(group), "kind": .string(kind), "version": .string(version)]
    }

    /// apiVersion and kind as every built-in kind describes them (TypeMeta's documentation).
    static func typeMetaProperties(_ definitions: OpenAPIDefinitions) -> [String: JSONValue] {
        let namespace = definitions.schemas["io.k8s.api.core.v1.Namespace"]?["properties"]
        var properties: [String: JSONValue] = [:]
        for key in ["apiVersion", "kind"] {
            properties[key] = namespace?[key] ?? ["type": "string"]
        }
        return properties
    }
}
