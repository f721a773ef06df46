import FerryHTTP
import Foundation

/// Everything an `S3Store` needs to know about where and how to store objects.
public struct S3Configuration: Sendable {
    public var bucket: String
    /// Key prefix under which the repository lives ("backups/prod/"); empty for the bucket root.
    public var prefix: String
    /// Endpoint URL (`http://127.0.0.1:8333`); nil means AWS (`https://s3.REGION.amazonaws.com`).
    public var endpoint: String?
    public var region: String
    public var addressing: S3AddressingStyle
    public var tls: HTTPTLSConfiguration
    /// Host names pinned to addresses (`BUCKET.s3.test:PORT:127.0.0.1`), see `HTTPClientConfiguration.resolve`.
    public var resolve: [String]
    /// Objects larger than this are uploaded in parts.
    public var multipartThreshold: Int
    /// Size of each part of a multipart upload (at least 5 MiB on AWS, except the last).
    public var multipartPartSize: Int
    /// Parts of one multipart upload sent at once.
    public var multipartConcurrency: Int
    /// HTTP requests in flight at once across all callers.
    public var maxConcurrentRequests: Int
    public var retry: S3RetryPolicy
    /// Storage class by object-name prefix; the longest matching prefix wins.
    public var storageClasses: [S3StorageClassRule]
    /// Whether the server honours `If-None-Match: *`, when the repository already recorded it;
    /// nil means probe on the first create-only write.
    public var conditionalWrites: S3ConditionalWrites?
    /// Keys per LIST page (at most 1000).
    public var listPageSize: Int
    /// Keys per DeleteObjects request (at most 1000).
    public var deleteBatchSize: Int
    public var timeouts: HTTPTimeouts
    /// The clock requests are signed with.
    public var clock: @Sendable () -> Date

    public init(
        bucket: String, prefix: String = "", endpoint: String? = nil, region: String = "us-east-1",
        addressing: S3AddressingStyle = .auto, tls: HTTPTLSConfiguration = .default, resolve: [String] = [],
        multipartThreshold: Int = 96 << 20, multipartPartSize: Int = 16 << 20, multipartConcurrency: Int = 4,
        maxConcurrentRequests: Int = 16, retry: S3RetryPolicy = S3RetryPolicy(), storageClasses: [S3StorageClassRule] = [],
        conditionalWrites: S3ConditionalWrites? = nil, listPageSize: Int = 1000, deleteBatchSize: Int = 1000,
        timeouts: HTTPTimeouts = HTTPTimeouts(connect: .seconds(15), total: nil, stall: .seconds(120)),
        clock: @escaping @Sendable () -> Date = Date.init
    ) {
        self.bucket = bucket
        self.prefix = prefix
        self.endpoint = endpoint
        self.region = region
        self.addressing = addressing
        self.tls = tls
        self.resolve = resolve
        self.multipartThreshold = multipartThreshold
        self.multipartPartSize = multipartPartSize
        self.multipartConcurrency = multipartConcurrency
        self.maxConcurrentRequests = maxConcurrentRequests
        self.retry = retry
        self.storageClasses = storageClasses
        self.conditionalWrites = conditionalWrites
        self.listPageSize = listPageSize
        self.deleteBatchSize = deleteBatchSize
        self.timeouts = timeouts
        self.clock = clock
    }

    /// The store's location as users write it: `s3://BUCKET/PREFIX`.
    public var location: String {
        let trimmed = prefix.hasSuffix("/") ? String(prefix.dropLast()) : prefix
        return trimmed.isEmpty ? "s3://\(bucket)" : "s3://\(bucket)/\(trimmed)"
    }
}

/// How the bucket appears in request URLs.
public enum S3AddressingStyle: String, Sendable, CaseIterable {
    /// Virtual-hosted on AWS when the bucket name allows it, path-style on custom endpoints.
    case auto
    /// `https://ENDPOINT/BUCKET/KEY` (MinIO, SeaweedFS, Ceph default).
    case path
    /// `https://BUCKET.ENDPOINT/KEY` (AWS default).
    case virtualHosted = "virtual"
}

/// A storage class for objects whose names start with `prefix` ("packs/" → "STANDARD_IA").
public struct S3StorageClassRule: Sendable, Hashable {
    public var prefix: String
    public var storageClass: String

    public init(prefix: String, storageClass: String) {
        self.prefix = prefix
        self.storageClass = storageClass
    }

    /// Parses `PREFIX=CLASS` (`packs/=STANDARD_IA`); a bare `CLASS` applies to every object.
    public init?(parsing text: String) {
        if let equals = text.lastIndex(of: "=") {
            prefix = String(text[..<equals])
            storageClass = String(text[text.index(after: equals)...])
        } else {
            prefix = ""
            storageClass = text
        }
        if storageClass.isEmpty || storageClass.contains(where: { !$0.isLetter && !$0.isNumber && $0 != "_" }) { return nil }
    }
}

/// What a probe found about `If-None-Match: *` on PUT. Repositories record it at init.
public enum S3ConditionalWrites: String, Sendable, Codable {
    /// The server refuses to overwrite (412): create-only writes are atomic.
    case honoured
    /// The server overwrites anyway: create-only writes check with HEAD first, which leaves a
    /// window in which two writers of the same name can race.
    case ignored
}

/// Retries with exponential backoff and full jitter.
public struct S3RetryPolicy: Sendable, Hashable {
    /// Attempts per request, the first included.
    public var maxAttempts: Int
    public var baseDelay: Duration
    public var maxDelay: Duration

    public init(maxAttempts: Int = 8, baseDelay: Duration = .milliseconds(200), maxDelay: Duration = .seconds(20)) {
        self.maxAttempts = max(1, maxAttempts)
        self.baseDelay = baseDelay
        self.maxDelay = maxDelay
    }

    /// A random delay in 0...min(maxDelay, baseDelay × 2^(attempt-1)).
    func delay(afterAttempt attempt: Int) -> Duration {
        let base = Double(baseDelay.components.seconds) + Double(baseDelay.components.attoseconds) / 1e18
        let cap = Double(maxDelay.components.seconds) + Double(maxDelay.components.attoseconds) / 1e18
        let ceiling = min(cap, base * pow(2, Double(min(attempt - 1, 30))))
        return .milliseconds(Int(Double.random(in: 0...ceiling) * 1000))
    }
}
