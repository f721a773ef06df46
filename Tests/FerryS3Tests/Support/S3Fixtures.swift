import FerryBlob
import FerryBlobTestSupport
import FerryHTTP
import FerryS3TestSupport
import Foundation

/// Stores on a SeaweedFS gateway for the S3 tests, each under a prefix of its own.
enum S3Fixtures {
    static func uniquePrefix(_ label: String) -> String {
        "\(label)-\(String(UInt64.random(in: 0...UInt64.max), radix: 36))/"
    }

    /// Quick retries so fault tests do not wait long.
    static let fastRetry = S3RetryPolicy(maxAttempts: 6, baseDelay: .milliseconds(20), maxDelay: .milliseconds(200))

    static func configuration(
        _ server: SeaweedFS, endpoint: String? = nil, prefix: String, bucket: String? = nil,
        modify: (inout S3Configuration) -> Void = { _ in }
    ) -> S3Configuration {
        var configuration = S3Configuration(
            bucket: bucket ?? server.bucket, prefix: prefix, endpoint: endpoint ?? server.endpoint, region: "us-east-1",
            addressing: .path, retry: fastRetry)
        modify(&configuration)
        return configuration
    }

    static func credentials(_ identity: SeaweedFS.Identity) -> StaticCredentialsProvider {
        StaticCredentialsProvider(S3Credentials(accessKeyID: identity.accessKey, secretAccessKey: identity.secretKey), source: "the test")
    }

    static func store(
        _ server: SeaweedFS, label: String, endpoint: String? = nil, identity: SeaweedFS.Identity? = nil,
        modify: (inout S3Configuration) -> Void = { _ in }
    ) throws -> S3Store {
        try S3Store(
            configuration: configuration(server, endpoint: endpoint, prefix: uniquePrefix(label), modify: modify),
            credentials: credentials(identity ?? server.admin))
    }

    /// Deterministic bytes that differ per seed.
    static func bytes(_ count: Int, seed: UInt64) -> [UInt8] {
        StoreContract.bytes(count, seed: seed)
    }
}
