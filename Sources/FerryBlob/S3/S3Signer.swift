import FerryDigest
import FerryHTTP

#if canImport(Glibc)
    import Glibc
#endif

/// AWS Signature Version 4 for S3 requests, signed in the Authorization header.
struct S3Signer: Sendable {
    let region: String
    var service = "s3"

    /// Hex SHA-256 of an empty payload.
    static let emptyPayloadHash = ByteText.hex(Hash.sha256([UInt8]()))

    /// Adds `x-amz-date`, `x-amz-content-sha256`, `x-amz-security-token` (with temporary
    /// credentials) and `Authorization` to `headers`, which must already hold `Host` and every
    /// other header to be signed. `path` is the percent-encoded path exactly as sent; `query`
    /// holds raw (not yet encoded) names and values.
    func sign(
        method: String, path: String, query: [(String, String)], headers: inout HTTPHeaders, payloadHash: String,
        credentials: S3Credentials, time: Int
    ) {
        let (date, dateTime) = Self.timestamps(time)
        headers.set("x-amz-date", dateTime)
        headers.set("x-amz-content-sha256", payloadHash)
        if let token = credentials.sessionToken, !token.isEmpty {
            headers.set("x-amz-security-token", token)
        }

        var canonical: [(String, String)] = []
        for (name, value) in headers {
            canonical.append((name.lowercased(), Self.normalizeSpaces(value)))
        }
        canonical.sort { $0.0 < $1.0 }
        // Repeated names are joined with commas, in order.
        var merged: [(String, String)] = []
        for (name, value) in canonical {
            if let last = merged.last, last.0 == name {
                merged[merged.count - 1].1 += "," + value
            } else {
                merged.append((name, value))
            }
        }
        let signedHeaders = merged.map(\.0).joined(separator: ";")
        let canonicalRequest = [
            method,
            path,
            Self.canonicalQuery(query),
            merged.map { "\($0.0):\($0.1)\n" }.joined(),
            signedHeaders,
            payloadHash,
        ].joined(separator: "\n")

        let scope = "\(date)/\(region)/\(service)/aws4_request"
        let stringToSign = "AWS4-HMAC-SHA256\n\(dateTime)\n\(scope)\n\(ByteText.hex(Hash.sha256(Array(canonicalRequest.utf8))))"
        var key = Hash.hmacSHA256(key: Array("AWS4\(credentials.secretAccessKey)".utf8), date)
        key = Hash.hmacSHA256(key: key, region)
        key = Hash.hmacSHA256(key: key, service)
        key = Hash.hmacSHA256(key: key, "aws4_request")
        let signature = ByteText.hex(Hash.hmacSHA256(key: key, stringToSign))
        headers.set(
            "Authorization",
            "AWS4-HMAC-SHA256 Credential=\(credentials.accessKeyID)/\(scope),SignedHeaders=\(signedHeaders),Signature=\(signature)")
    }

    /// The query string as sent and as signed: names and values percent-encoded, sorted.
    static func canonicalQuery(_ query: [(String, String)]) -> String {
        query.map { (uriEncode($0.0, keepSlash: false), uriEncode($0.1, keepSlash: false)) }
            .sorted { $0.0 != $1.0 ? $0.0 < $1.0 : $0.1 < $1.1 }
            .map { "\($0.0)=\($0.1)" }
            .joined(separator: "&")
    }

    /// Percent-encoding as SigV4 wants it: everything but `A-Z a-z 0-9 - . _ ~` (and `/` in
    /// paths), upper-case hex.
    static func uriEncode(_ text: String, keepSlash: Bool) -> String {
        let hexDigits = Array("0123456789ABCDEF".utf8)
        var out = [UInt8]()
        out.reserveCapacity(text.utf8.count)
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
                UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "~"):
                out.append(byte)
            case UInt8(ascii: "/") where keepSlash:
                out.append(byte)
            default:
                out += [UInt8(ascii: "%"), hexDigits[Int(byte >> 4)], hexDigits[Int(byte & 0x0F)]]
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    private static func normalizeSpaces(_ value: String) -> String {
        var out = ""
        var pendingSpace = false
        for character in value {
            if character == " " || character == "\t" {
                pendingSpace = !out.isEmpty
            } else {
                if pendingSpace { out.append(" ") }
                pendingSpace = false
                out.append(character)
            }
        }
        return out
    }

    /// ("20130524", "20130524T000000Z") for a Unix time.
    static func timestamps(_ time: Int) -> (String, String) {
        var seconds = time_t(time)
        var parts = tm()
        gmtime_r(&seconds, &parts)
        func pad(_ value: Int32, _ width: Int) -> String {
            let text = String(value)
            return String(repeating: "0", count: max(0, width - text.count)) + text
        }
        let date = pad(parts.tm_year + 1900, 4) + pad(parts.tm_mon + 1, 2) + pad(parts.tm_mday, 2)
        return (date, date + "T" + pad(parts.tm_hour, 2) + pad(parts.tm_min, 2) + pad(parts.tm_sec, 2) + "Z")
    }
}
