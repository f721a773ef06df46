/// Where requests for one bucket go: scheme, host and port, and whether the bucket is part of the
/// host name (virtual-hosted) or of the path.
struct S3Endpoint: Sendable {
    let scheme: String
    /// Host name without the bucket.
    let host: String
    let port: Int?
    let bucket: String
    let virtualHosted: Bool

    init(configuration: S3Configuration) throws(ObjectStoreError) {
        let store = configuration.location
        let bucket = configuration.bucket
        guard Self.isValidBucketName(bucket) else {
            throw ObjectStoreError.missingStore(
                store: store,
                detail: "\"\(bucket)\" is not a valid bucket name (3-63 characters: lower-case letters, digits, dots and hyphens)")
        }
        let url = configuration.endpoint ?? "https://s3.\(configuration.region).amazonaws.com"
        guard let schemeEnd = url.firstRange(of: "://") else {
            throw ObjectStoreError.missingStore(
                store: store, detail: "S3 endpoint \"\(url)\" is not a URL (expected http://HOST:PORT or https://HOST)")
        }
        let scheme = url[..<schemeEnd.lowerBound].lowercased()
        guard scheme == "http" || scheme == "https" else {
            throw ObjectStoreError.missingStore(store: store, detail: "S3 endpoint \"\(url)\" must start with http:// or https://")
        }
        var authority = Substring(url[schemeEnd.upperBound...])
        while authority.hasSuffix("/") { authority.removeLast() }
        guard !authority.contains("/"), !authority.contains("?"), !authority.contains("@"), !authority.isEmpty else {
            throw ObjectStoreError.missingStore(store: store, detail: "S3 endpoint \"\(url)\" must be scheme://host[:port] without a path")
        }
        var host = String(authority)
        var port: Int?
        if let colon = authority.lastIndex(of: ":"), !authority[colon...].contains("]") {
            guard let number = Int(authority[authority.index(after: colon)...]), (1...65535).contains(number) else {
                throw ObjectStoreError.missingStore(store: store, detail: "S3 endpoint \"\(url)\" has an invalid port")
            }
            host = String(authority[..<colon])
            port = number
        }
        self.scheme = scheme
        self.host = host.lowercased()
        self.port = port
        self.bucket = bucket
        switch configuration.addressing {
        case .path:
            virtualHosted = false
        case .virtualHosted:
            guard !bucket.contains(".") || scheme == "http" else {
                throw ObjectStoreError.missingStore(
                    store: store,
                    detail: "bucket \"\(bucket)\" contains dots, which break TLS with virtual-hosted addressing; use path-style")
            }
            virtualHosted = true
        case .auto:
            virtualHosted = configuration.endpoint == nil && !bucket.contains(".")
        }
    }

    /// The Host header: the bucket's host name, with the port unless it is the scheme's default.
    var hostHeader: String {
        let name = virtualHosted ? "\(bucket).\(host)" : host
        guard let port, !(scheme == "http" && port == 80), !(scheme == "https" && port == 443) else { return name }
        return "\(name):\(port)"
    }

    var displayURL: String {
        "\(scheme)://\(host)" + (port.map { ":\($0)" } ?? "")
    }

    /// The encoded path of `key` (nil: the bucket itself).
    func path(key: String?) -> String {
        let encodedKey = key.map { S3Signer.uriEncode($0, keepSlash: true) }
        if virtualHosted { return "/" + (encodedKey ?? "") }
        if let encodedKey { return "/\(bucket)/\(encodedKey)" }
        return "/\(bucket)"
    }

    func url(path: String, query: String) -> String {
        "\(scheme)://\(hostHeader)\(path)" + (query.isEmpty ? "" : "?\(query)")
    }

    static func isValidBucketName(_ name: String) -> Bool {
        guard (3...63).contains(name.utf8.count), let first = name.utf8.first, let last = name.utf8.last else { return false }
        func alphanumeric(_ byte: UInt8) -> Bool {
            (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte) || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte)
        }
        guard alphanumeric(first), alphanumeric(last) else { return false }
        return name.utf8.allSatisfy { alphanumeric($0) || $0 == UInt8(ascii: "-") || $0 == UInt8(ascii: ".") }
            && !name.contains("..")
    }
}
