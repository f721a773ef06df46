/// A Kubernetes resource quantity (`10Gi`, `500M`, `1e9`, `1.5Ti`) converted to a number of bytes
/// (or units): binary suffixes Ki..Ei, decimal k..E, exponents, and milli (`m`).
public struct Quantity: Sendable, Hashable, CustomStringConvertible {
    public var text: String
    /// The value rounded up to a whole number; nil when it does not fit in Int64.
    public var value: Int64?

    public init?(_ text: String) {
        let trimmed = text.trimmingSpaces
        guard !trimmed.isEmpty else { return nil }
        let suffixes: [(String, Double)] = [
            ("Ki", 1024), ("Mi", 1_048_576), ("Gi", 1_073_741_824), ("Ti", 1_099_511_627_776),
            ("Pi", 1_125_899_906_842_624), ("Ei", 1_152_921_504_606_846_976),
            ("k", 1e3), ("M", 1e6), ("G", 1e9), ("T", 1e12), ("P", 1e15), ("E", 1e18), ("m", 1e-3),
        ]
        var number = Substring(trimmed)
        var multiplier = 1.0
        for (suffix, factor) in suffixes where number.hasSuffix(suffix) {
            number = number.dropLast(suffix.count)
            multiplier = factor
            break
        }
        if multiplier == 1.0, let e = number.firstIndex(where: { $0 == "e" || $0 == "E" }) {
            guard let exponent = Int(number[number.index(after: e)...]), abs(exponent) <= 30 else { return nil }
            multiplier = Self.pow10(exponent)
            number = number[..<e]
        }
        guard !number.isEmpty, number.allSatisfy({ $0.isNumber || $0 == "." || $0 == "+" || $0 == "-" }),
            let base = Double(number)
        else { return nil }
        let total = (base * multiplier).rounded(.up)
        self.text = trimmed
        self.value = total.isFinite && abs(total) < 9.2e18 ? Int64(total) : nil
        if let exact = Int64(number), multiplier >= 1, multiplier.rounded() == multiplier {
            let (product, overflow) = exact.multipliedReportingOverflow(by: Int64(multiplier))
            if !overflow { self.value = product }
        }
    }

    public var description: String { text }

    private static func pow10(_ e: Int) -> Double {
        var result = 1.0
        for _ in 0..<abs(e) { result *= 10 }
        return e < 0 ? 1 / result : result
    }
}
