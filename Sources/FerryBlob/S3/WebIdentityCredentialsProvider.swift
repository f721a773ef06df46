import FerryHTTP
import Foundation

/// Temporary credentials from STS AssumeRoleWithWebIdentity, as pods get them on EKS
/// (`AWS_ROLE_ARN` + `AWS_WEB_IDENTITY_TOKEN_FILE`).
///
/// The token file is read afresh on every call to STS (the kubelet rotates it), and the
/// credentials are renewed `refreshMargin` before they expire, or at once when the server
/// reports them expired. Concurrent callers share one STS call.
public actor WebIdentityCredentialsProvider: S3CredentialsProvider {
    public nonisolated let roleARN: String
    public nonisolated let tokenFile: String
    public nonisolated let sessionName: String
    /// STS endpoint URL (`https://sts.REGION.amazonaws.com`, or `AWS_ENDPOINT_URL_STS`).
    public nonisolated let endpoint: String
    public nonisolated let refreshMargin: Duration
    public nonisolated let durationSeconds: Int?
    public nonisolated var source: String { "web identity (role \(roleARN), token file \(tokenFile))" }

    private let client: HTTPClient
    private let now: @Sendable () -> Date
    private var cached: S3Credentials?
    private var refreshing: Task<S3Credentials, any Error>?

    public init(
        roleARN: String, tokenFile: String, sessionName: String? = nil, endpoint: String, client: HTTPClient,
        refreshMargin: Duration = .seconds(300), durationSeconds: Int? = nil, now: @escaping @Sendable () -> Date = Date.init
    ) {
        self.roleARN = roleARN
        self.tokenFile = tokenFile
        self.sessionName = sessionName ?? "ferry-\(Int(Date().timeIntervalSince1970))"
        self.endpoint = endpoint
        self.client = client
        self.refreshMargin = refreshMargin
        self.durationSeconds = durationSeconds
        self.now = now
    }

    public func credentials() async throws -> S3Credentials {
        if let cached, let expiration = cached.expiration,
            expiration.timeIntervalSince(now()) > Double(refreshMargin.components.seconds)
        {
            return cached
        }
        if let refreshing { return try await refreshing.value }
        let task = Task { try await self.assumeRole() }
        refreshing = task
        defer { refreshing = nil }
        let fresh = try await task.value
        cached = fresh
        return fresh
    }

    public func invalidate() {
        cached = nil
    }

    private func assumeRole() async throws -> S3Credentials {
        let store = "STS \(endpoint)"
        let token: String
        do {
            token = try String(contentsOfFile: tokenFile, encoding: .utf8).trimmingWhitespace()
        } catch {
            throw ObjectStoreError.accessDenied(
                store: store,
                detail: "cannot read the web identity token file \(tokenFile) (AWS_WEB_IDENTITY_TOKEN_FILE): \(error.localizedDescription)")
        }
        guard !token.isEmpty else {
            throw ObjectStoreError.accessDenied(store: store, detail: "the web identity token file \(tokenFile) is empty")
        }
        var form: [(String, String)] = [
            ("Action", "AssumeRoleWithWebIdentity"), ("Version", "2011-06-15"), ("RoleArn", roleARN),
            ("RoleSessionName", sessionName), ("WebIdentityToken", token),
        ]
        if let durationSeconds { form.append(("DurationSeconds", String(durationSeconds))) }
        let body = form.map { "\(S3Signer.uriEncode($0.0, keepSlash: false))=\(S3Signer.uriEncode($0.1, keepSlash: false))" }.joined(
            separator: "&")
        var request = HTTPRequest(method: .post, url: endpoint, body: .string(body), maxResponseBodySize: 1 << 20)
        request.headers.add("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")
        request.headers.add("Accept", "application/xml")

        let response: HTTPResponse
        do {
            response = try await client.send(request)
        } catch {
            throw ObjectStoreError.unavailable(store: store, detail: "AssumeRoleWithWebIdentity failed: \(error)")
        }
        let document = try? S3XML.parse(response.body)
        guard response.isSuccess else {
            let code = document?.text("Error", "Code") ?? document?.text("Code") ?? "HTTP \(response.status)"
            let message = document?.text("Error", "Message") ?? document?.text("Message") ?? response.text.prefix(200).description
            let detail = "STS refused AssumeRoleWithWebIdentity for role \(roleARN): \(code): \(message)"
            if response.status >= 500 { throw ObjectStoreError.unavailable(store: store, detail: detail) }
            throw ObjectStoreError.accessDenied(store: store, detail: detail)
        }
        guard let result = document?.child("AssumeRoleWithWebIdentityResult"),
            let accessKey = result.text("Credentials", "AccessKeyId"),
            let secret = result.text("Credentials", "SecretAccessKey")
        else {
            throw ObjectStoreError.accessDenied(store: store, detail: "STS answered AssumeRoleWithWebIdentity without credentials")
        }
        let expiration = result.text("Credentials", "Expiration").flatMap(Self.parseTimestamp)
        return S3Credentials(
            accessKeyID: accessKey.trimmingWhitespace(), secretAccessKey: secret.trimmingWhitespace(),
            sessionToken: result.text("Credentials", "SessionToken")?.trimmingWhitespace(),
            expiration: expiration ?? now().addingTimeInterval(900))
    }

    /// "2026-11-22T01:02:03Z" or with fractional seconds.
    static func parseTimestamp(_ text: String) -> Date? {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime]
        if let date = formatter.date(from: text.trimmingWhitespace()) { return date }
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return formatter.date(from: text.trimmingWhitespace())
    }
}
