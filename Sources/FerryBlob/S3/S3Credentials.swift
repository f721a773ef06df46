import Foundation

/// AWS credentials: an access key pair, with a session token and expiry when temporary.
public struct S3Credentials: Sendable, Hashable, CustomStringConvertible {
    public var accessKeyID: String
    public var secretAccessKey: String
    public var sessionToken: String?
    /// When temporary credentials stop working; nil for long-term keys.
    public var expiration: Date?

    public init(accessKeyID: String, secretAccessKey: String, sessionToken: String? = nil, expiration: Date? = nil) {
        self.accessKeyID = accessKeyID
        self.secretAccessKey = secretAccessKey
        self.sessionToken = sessionToken
        self.expiration = expiration
    }

    /// Names the key id only: secrets never appear in messages or logs.
    public var description: String {
        "access key \(accessKeyID)" + (sessionToken == nil ? "" : " (temporary)")
    }
}

/// Where an S3 store gets its credentials, asked before every request (so temporary credentials
/// can be refreshed before they expire).
public protocol S3CredentialsProvider: Sendable {
    /// Current credentials; throws `ObjectStoreError.accessDenied` when none can be had.
    func credentials() async throws -> S3Credentials
    /// The server said the credentials expired or are invalid: fetch fresh ones next time.
    func invalidate() async
    /// Where the credentials come from, for messages ("environment variables AWS_ACCESS_KEY_ID...").
    var source: String { get }
}

/// Fixed credentials: from environment variables, a shared credentials file, or given directly.
public struct StaticCredentialsProvider: S3CredentialsProvider {
    public let fixed: S3Credentials
    public let source: String

    public init(_ credentials: S3Credentials, source: String = "the configuration") {
        self.fixed = credentials
        self.source = source
    }

    public func credentials() async throws -> S3Credentials { fixed }
    public func invalidate() async {}
}
