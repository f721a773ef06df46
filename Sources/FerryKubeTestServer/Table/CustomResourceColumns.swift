import FerryKube
import Foundation

/// A custom resource's columns as apiextensions-apiserver's table convertor makes them: Name, then
/// the CRD version's additionalPrinterColumns (or, without any, Age) with their type, format,
/// description and priority; each cell the column's JSONPath's first result, typed by the
/// column (`integer`, `number`, `boolean`, `date` as an age, `string` printed as JSONPath
/// prints it), null when the path finds nothing or the value has another type.
struct CustomResourceColumns: TableColumns {
    let columns: [TableColumn]
    let paths: [JSONPathExpression?]

    init(printerColumns: [JSONValue]?, definitions: OpenAPIDefinitions?) {
        let meta = definitions?.schemas[FieldValidator.objectMeta]?["properties"]
        let defaults: [JSONValue] = [
            [
                "name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp",
                "description": meta?["creationTimestamp"]?["description"] ?? "",
            ]
        ]
        var columns = [
            TableColumn(
                name: "Name", type: "string", format: "name", description: meta?["name"]?["description"]?.stringValue ?? "")
        ]
        var paths: [JSONPathExpression?] = []
        for column in printerColumns ?? defaults {
            let path = column["jsonPath"]?.stringValue ?? column["JSONPath"]?.stringValue ?? ""
            let description = column["description"]?.stringValue ?? ""
            columns.append(
                TableColumn(
                    name: column["name"]?.stringValue ?? "", type: column["type"]?.stringValue ?? "string",
                    format: column["format"]?.stringValue ?? "",
                    description: description.isEmpty ? "Custom resource definition column (in JSONPath format): \(path)" : description,
                    priority: Int(column["priority"]?.intValue ?? 0)))
            paths.append(try? JSONPathExpression(path))
        }
        self.columns = columns
        self.paths = paths
    }

    func cells(_ object: JSONValue, now: Date) -> [JSONValue] {
        var cells: [JSONValue] = [.string(object["metadata"]?["name"]?.stringValue ?? "")]
        for (column, path) in zip(columns.dropFirst(), paths) {
            guard let value = path?.results(in: object).first, value != .null else {
                cells.append(.null)
                continue
            }
            cells.append(Self.cell(column.type, value, now: now))
        }
        return cells
    }

    static func cell(_ type: String, _ value: JSONValue, now: Date) -> JSONValue {
        switch (type, value) {
        case ("integer", .int), ("number", .double), ("boolean", .bool): return value
        case ("integer", .double(let d)): return .int(Int64(d))
        case ("number", .int(let i)): return .double(Double(i))
        case ("date", .string(let text)):
            guard let date = HumanDuration.parse(text) else { return "<invalid>" }
            return .string(HumanDuration.text(now.timeIntervalSince(date)))
        case ("string", _): return .string(printed(value))
        default: return .null
        }
    }

    /// JSONPath's printing of one result: strings as they are, numbers and booleans as Go prints
    /// them, objects and arrays as compact JSON.
    static func printed(_ value: JSONValue) -> String {
        switch value {
        case .string(let text): return text
        case .int, .double, .bool: return GoFormat.value(value)
        default: return String(decoding: value.serialized(), as: UTF8.self)
        }
    }
}
