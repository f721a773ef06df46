import FerryKube
import Foundation

/// Answers `Accept: application/json;as=Table;v=v1;g=meta.k8s.io` (what `kubectl get` asks for)
/// with a `meta.k8s.io` Table: the resource's columns, one row per object, and in each row the
/// object as `includeObject` says (`Metadata`, the default: a PartialObjectMetadata; `Object`;
/// `None`). In a watch, every event's object is a one-row Table, the column definitions only in
/// the first (the real server sets NoHeaders after it).
struct TableRenderer: Sendable {
    enum Include: String, Sendable {
        case object = "Object"
        case metadata = "Metadata"
        case none = "None"
    }

    let columns: any TableColumns
    /// `meta.k8s.io/v1` or `meta.k8s.io/v1beta1`, as asked.
    let apiVersion: String
    let include: Include

    /// The Table version the Accept header asks for before any plain JSON, nil when none.
    static func requestedVersion(accept: String) -> String? {
        for clause in accept.split(separator: ",") {
            let parts = clause.split(separator: ";").map { String($0).trimmingCharacters(in: " ") }
            guard let type = parts.first else { continue }
            var parameters: [String: String] = [:]
            for part in parts.dropFirst() {
                let pair = part.split(separator: "=", maxSplits: 1).map(String.init)
                if pair.count == 2 { parameters[pair[0]] = pair[1] }
            }
            if type == "application/json", parameters["as"] == "Table", parameters["g"] == "meta.k8s.io",
                let version = parameters["v"], version == "v1" || version == "v1beta1"
            {
                return version
            }
            if ["application/json", "application/*", "*/*"].contains(type) && parameters["as"] == nil { return nil }
        }
        return nil
    }

    /// The columns of a resource: its CRD's printer columns, its built-in printer, or the
    /// server's default (Name, Created At).
    static func columns(for entry: ResourceRegistry.Entry, definitions: OpenAPIDefinitions?) -> any TableColumns {
        if entry.isCustom { return CustomResourceColumns(printerColumns: entry.printerColumns, definitions: definitions) }
        if let builtin = BuiltinColumns.forResource(group: entry.resource.group, resource: entry.resource.name, definitions: definitions) {
            return builtin
        }
        return DefaultColumns(definitions: definitions)
    }

    var contentType: String { "application/json;as=Table;v=\(apiVersion.split(separator: "/").last ?? "v1");g=meta.k8s.io" }

    /// A Table of `items` (already presented in the requested version) with the list's metadata.
    func table(_ items: [JSONValue], metadata: JSONValue, headers: Bool = true, now: Date = Date()) -> JSONValue {
        var table: JSONValue = [
            "kind": "Table", "apiVersion": .string(apiVersion), "metadata": metadata,
            "rows": .array(items.map { row($0, now: now) }),
        ]
        if headers { table["columnDefinitions"] = .array(columns.columns.map(\.json)) }
        return table
    }

    func row(_ object: JSONValue, now: Date) -> JSONValue {
        var row: JSONValue = ["cells": .array(columns.cells(object, now: now))]
        if let conditions = (columns as? BuiltinColumns)?.conditions(object) { row["conditions"] = conditions }
        switch include {
        case .object:
            row["object"] = object
        case .metadata:
            row["object"] = [
                "kind": "PartialObjectMetadata", "apiVersion": .string(apiVersion), "metadata": object["metadata"] ?? [:],
            ]
        case .none:
            break
        }
        return row
    }

    /// A watch event whose object is a one-row Table (BOOKMARK and ERROR events pass unchanged).
    func event(_ event: JSONValue, headers: Bool) -> JSONValue {
        guard let type = event["type"]?.stringValue, ["ADDED", "MODIFIED", "DELETED"].contains(type),
            let object = event["object"]
        else { return event }
        let metadata: JSONValue = ["resourceVersion": object["metadata"]?["resourceVersion"] ?? ""]
        return ["type": .string(type), "object": table([object], metadata: metadata, headers: headers)]
    }
}
