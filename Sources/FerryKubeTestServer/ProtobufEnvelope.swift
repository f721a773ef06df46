import FerryKube
import Foundation

/// Decodes the Kubernetes protobuf envelope (`k8s\0` + `runtime.Unknown`) for the few kinds typed
/// client-go calls send with protobuf bodies: Secrets and ConfigMaps (helm's release storage) and
/// Namespaces (`kubectl create namespace`). Only the fields those objects carry on create/update
/// are decoded; field numbers are from k8s.io/api and apimachinery `generated.proto`.
enum ProtobufEnvelope {
    static let magic: [UInt8] = [0x6B, 0x38, 0x73, 0x00] // "k8s\0"

    struct DecodeError: Error, CustomStringConvertible {
        var message: String
        var description: String { "protobuf body: \(message)" }
    }

    /// The JSON form of a protobuf-encoded object.
    static func decode(_ body: [UInt8]) throws(DecodeError) -> JSONValue {
        guard body.count >= 4, Array(body[0..<4]) == magic else {
            throw DecodeError(message: "missing the k8s\\0 envelope prefix")
        }
        var apiVersion = ""
        var kind = ""
        var raw: ArraySlice<UInt8> = []
        for field in try fields(body[4...]) {
            switch (field.number, field.value) {
            case (1, .bytes(let typeMeta)):
                for inner in try fields(typeMeta) {
                    if case .bytes(let b) = inner.value {
                        if inner.number == 1 { apiVersion = string(b) }
                        if inner.number == 2 { kind = string(b) }
                    }
                }
            case (2, .bytes(let b)): raw = b
            case (3, .bytes(let b)) where !b.isEmpty:
                throw DecodeError(message: "content encoding \"\(string(b))\" is not supported")
            default: break
            }
        }
        var object: JSONValue = ["apiVersion": .string(apiVersion), "kind": .string(kind)]
        /// Adds one protobuf map entry to the JSON map `name`, its value rendered by `render`.
        func add(_ entry: ArraySlice<UInt8>, to name: String, _ render: (ArraySlice<UInt8>) -> String) throws(DecodeError) {
            let (key, value) = try mapEntry(entry)
            var map = object[name] ?? [:]
            map[key] = .string(render(value))
            object[name] = map
        }
        let base64 = { (bytes: ArraySlice<UInt8>) in Data(bytes).base64EncodedString() }
        switch kind {
        case "Secret":
            for field in try fields(raw) {
                switch (field.number, field.value) {
                case (1, .bytes(let b)): object["metadata"] = try objectMeta(b)
                case (2, .bytes(let b)): try add(b, to: "data", base64)
                case (3, .bytes(let b)): if !b.isEmpty { object["type"] = .string(string(b)) }
                case (4, .bytes(let b)): try add(b, to: "stringData", string)
                case (5, .varint(let v)): object["immutable"] = .bool(v != 0)
                default: break
                }
            }
        case "ConfigMap":
            for field in try fields(raw) {
                switch (field.number, field.value) {
                case (1, .bytes(let b)): object["metadata"] = try objectMeta(b)
                case (2, .bytes(let b)): try add(b, to: "data", string)
                case (3, .bytes(let b)): try add(b, to: "binaryData", base64)
                case (4, .varint(let v)): object["immutable"] = .bool(v != 0)
                default: break
                }
            }
        case "Namespace":
            for field in try fields(raw) {
                switch (field.number, field.value) {
                case (1, .bytes(let b)): object["metadata"] = try objectMeta(b)
                case (2, .bytes(let b)):
                    var finalizers: [JSONValue] = []
                    for inner in try fields(b) where inner.number == 1 {
                        if case .bytes(let f) = inner.value { finalizers.append(.string(string(f))) }
                    }
                    if !finalizers.isEmpty { object["spec"] = ["finalizers": .array(finalizers)] }
                default: break
                }
            }
        default:
            guard let fields = try authenticationKind(kind, raw) else {
                throw DecodeError(
                    message: "kind \"\(kind)\" is not one the test server decodes from protobuf (Secret, ConfigMap, "
                        + "Namespace, ServiceAccount, the RBAC kinds, TokenRequest and the reviews); send JSON")
            }
            for (key, value) in fields.objectValue ?? [:] { object[key] = value }
        }
        return object
    }

    static func objectMeta(_ bytes: ArraySlice<UInt8>) throws(DecodeError) -> JSONValue {
        var meta: JSONValue = [:]
        var labels: JSONValue = [:]
        var annotations: JSONValue = [:]
        var owners: [JSONValue] = []
        var finalizers: [JSONValue] = []
        for field in try fields(bytes) {
            switch (field.number, field.value) {
            case (1, .bytes(let b)): setString(&meta, "name", b)
            case (2, .bytes(let b)): setString(&meta, "generateName", b)
            case (3, .bytes(let b)): setString(&meta, "namespace", b)
            case (5, .bytes(let b)): setString(&meta, "uid", b)
            case (6, .bytes(let b)): setString(&meta, "resourceVersion", b)
            case (7, .varint(let v)): if v != 0 { meta["generation"] = .int(Int64(bitPattern: v)) }
            case (11, .bytes(let b)):
                let (k, v) = try mapEntry(b)
                labels[k] = .string(string(v))
            case (12, .bytes(let b)):
                let (k, v) = try mapEntry(b)
                annotations[k] = .string(string(v))
            case (13, .bytes(let b)):
                var owner: JSONValue = [:]
                for inner in try fields(b) {
                    switch (inner.number, inner.value) {
                    case (1, .bytes(let s)): owner["kind"] = .string(string(s))
                    case (3, .bytes(let s)): owner["name"] = .string(string(s))
                    case (4, .bytes(let s)): owner["uid"] = .string(string(s))
                    case (5, .bytes(let s)): owner["apiVersion"] = .string(string(s))
                    case (6, .varint(let v)): owner["controller"] = .bool(v != 0)
                    case (7, .varint(let v)): owner["blockOwnerDeletion"] = .bool(v != 0)
                    default: break
                    }
                }
                owners.append(owner)
            case (14, .bytes(let b)): finalizers.append(.string(string(b)))
            default: break // selfLink, timestamps, managedFields: server-owned or ignored
            }
        }
        if labels.objectValue?.isEmpty == false { meta["labels"] = labels }
        if annotations.objectValue?.isEmpty == false { meta["annotations"] = annotations }
        if !owners.isEmpty { meta["ownerReferences"] = .array(owners) }
        if !finalizers.isEmpty { meta["finalizers"] = .array(finalizers) }
        return meta
    }

    private static func setString(_ meta: inout JSONValue, _ key: String, _ bytes: ArraySlice<UInt8>) {
        // Proto3 sends unset strings as empty ones.
        if !bytes.isEmpty { meta[key] = .string(string(bytes)) }
    }

    static func string(_ bytes: ArraySlice<UInt8>) -> String { String(decoding: bytes, as: UTF8.self) }

    static func mapEntry(_ bytes: ArraySlice<UInt8>) throws(DecodeError) -> (String, ArraySlice<UInt8>) {
        var key = ""
        var value: ArraySlice<UInt8> = []
        for field in try fields(bytes) {
            if case .bytes(let b) = field.value {
                if field.number == 1 { key = string(b) }
                if field.number == 2 { value = b }
            }
        }
        return (key, value)
    }

    enum FieldValue {
        case varint(UInt64)
        case bytes(ArraySlice<UInt8>)
        case fixed
    }

    struct Field {
        var number: Int
        var value: FieldValue
    }

    /// Splits a message into its fields (wire types 0, 1, 2, 5).
    static func fields(_ bytes: ArraySlice<UInt8>) throws(DecodeError) -> [Field] {
        var result: [Field] = []
        var index = bytes.startIndex
        func varint() throws(DecodeError) -> UInt64 {
            var value: UInt64 = 0
            var shift: UInt64 = 0
            while true {
                guard index < bytes.endIndex else { throw DecodeError(message: "truncated varint") }
                let byte = bytes[index]
                index += 1
                if shift >= 64 { throw DecodeError(message: "varint too long") }
                value |= UInt64(byte & 0x7F) << shift
                if byte & 0x80 == 0 { return value }
                shift += 7
            }
        }
        while index < bytes.endIndex {
            let key = try varint()
            let number = Int(key >> 3)
            switch key & 7 {
            case 0: result.append(Field(number: number, value: .varint(try varint())))
            case 1:
                guard bytes.endIndex - index >= 8 else { throw DecodeError(message: "truncated fixed64") }
                index += 8
                result.append(Field(number: number, value: .fixed))
            case 2:
                let length = try varint()
                guard length <= UInt64(bytes.endIndex - index) else {
                    throw DecodeError(message: "field \(number) is longer than the message")
                }
                let end = index + Int(length)
                result.append(Field(number: number, value: .bytes(bytes[index..<end])))
                index = end
            case 5:
                guard bytes.endIndex - index >= 4 else { throw DecodeError(message: "truncated fixed32") }
                index += 4
                result.append(Field(number: number, value: .fixed))
            default:
                throw DecodeError(message: "unsupported wire type \(key & 7)")
            }
        }
        return result
    }
}
