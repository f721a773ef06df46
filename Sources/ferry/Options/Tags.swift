import ArgumentParser

/// `--tag key=value` options, parsed.
enum Tags {
    static func parse(_ items: [String]) throws -> [String: String] {
        var tags: [String: String] = [:]
        for item in items {
            guard let eq = item.firstIndex(of: "=") else { throw ValidationError("--tag takes key=value, got \(item)") }
            tags[String(item[..<eq])] = String(item[item.index(after: eq)...])
        }
        return tags
    }
}
