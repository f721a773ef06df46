import FerryKube

/// Protocol buffer wire format, writing only (varints, doubles, length-delimited fields);
/// proto3 defaults (empty strings, false) are left out.
struct ProtobufWriter {
    private(set) var bytes: [UInt8] = []

    mutating func raw(_ value: UInt64) {
        var value = value
        while value >= 0x80 {
            bytes.append(UInt8(value & 0x7F) | 0x80)
            value >>= 7
        }
        bytes.append(UInt8(value))
    }

    mutating func key(_ field: Int, _ wireType: UInt64) { raw(UInt64(field) << 3 | wireType) }

    mutating func varint(_ field: Int, _ value: UInt64) {
        key(field, 0)
        raw(value)
    }

    mutating func bool(_ field: Int, _ value: Bool, always: Bool = false) {
        if value || always { varint(field, value ? 1 : 0) }
    }

    mutating func double(_ field: Int, _ value: Double) {
        key(field, 1)
        var bits = value.bitPattern
        for _ in 0..<8 {
            bytes.append(UInt8(bits & 0xFF))
            bits >>= 8
        }
    }

    mutating func string(_ field: Int, _ value: String) {
        guard !value.isEmpty else { return }
        key(field, 2)
        raw(UInt64(value.utf8.count))
        bytes.append(contentsOf: value.utf8)
    }

    /// A nested message, written by `body`.
    mutating func message(_ field: Int, _ body: (inout ProtobufWriter) -> Void) {
        var nested = ProtobufWriter()
        body(&nested)
        key(field, 2)
        raw(UInt64(nested.bytes.count))
        bytes.append(contentsOf: nested.bytes)
    }
}
