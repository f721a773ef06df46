import FerryKube
import Foundation

/// One `columnDefinitions` entry of a `meta.k8s.io` Table.
struct TableColumn: Sendable {
    var name: String
    var type: String
    var format = ""
    var description: String
    var priority = 0

    var json: JSONValue {
        [
            "name": .string(name), "type": .string(type), "format": .string(format),
            "description": .string(description), "priority": .int(Int64(priority)),
        ]
    }
}

/// What `kubectl get` shows of a kind: the server's column definitions and each object's cells
/// (kube-apiserver's TableConvertor for the resource).
protocol TableColumns: Sendable {
    var columns: [TableColumn] { get }
    func cells(_ object: JSONValue, now: Date) -> [JSONValue]
}
