import FerryKube
import Foundation

/// kube-apiserver's default table convertor, for resources without a printer: Name and the
/// creation time as an RFC 3339 date.
struct DefaultColumns: TableColumns {
    let columns: [TableColumn]

    init(definitions: OpenAPIDefinitions?) {
        let docs = BuiltinColumns.Docs(definitions: definitions)
        columns = [
            TableColumn(name: "Name", type: "string", format: "name", description: docs.meta("name")),
            TableColumn(name: "Created At", type: "date", description: docs.meta("creationTimestamp")),
        ]
    }

    func cells(_ object: JSONValue, now: Date) -> [JSONValue] {
        [.string(BuiltinColumns.objectName(object)), object["metadata"]?["creationTimestamp"] ?? .null]
    }
}
