import FerryBlob
import FerryS3TestSupport
import FerryTestSupport
import Foundation
import Testing

/// A repository in a SeaweedFS bucket, driven through the real `ferry` binary with the S3
/// settings a user would give (`--repo s3://BUCKET/PREFIX`, AWS_* and FERRY_S3_ENDPOINT).
struct S3CLIFixture {
    let server: SeaweedFS
    let dir: TemporaryDirectory
    let prefix: String
    let bucketName: String
    var ferry: FerryProcess
    var repo: String { "s3://\(bucketName)/\(prefix)" }

    /// - Parameter endpoint: where ferry sends requests (a fault proxy), default the server.
    /// - Parameter bucket: a bucket other than the server's own (one with Object Lock, say).
    init(
        server: SeaweedFS, endpoint: String? = nil, identity: SeaweedFS.Identity? = nil, bucket: String? = nil, initialize: Bool = true,
        extra: [String] = []
    ) async throws {
        self.server = server
        bucketName = bucket ?? server.bucket
        dir = try TemporaryDirectory("ferry-s3-cli")
        prefix = "cli-\(String(UInt64.random(in: 0...UInt64.max), radix: 36))"
        var environment = server.environment(as: identity)
        environment["FERRY_S3_ENDPOINT"] = endpoint ?? server.endpoint
        environment["HOME"] = dir.path
        ferry = FerryProcess(password: "s3-cli-password", extra: environment)
        if initialize {
            try await expectSuccess(["repo", "init", "--repo", repo] + extra)
        }
    }

    @discardableResult
    func expectSuccess(_ args: [String], sourceLocation: SourceLocation = #_sourceLocation) async throws -> ChildProcess.Result {
        let result = try await ferry.run(args)
        #expect(result.succeeded, "ferry \(args.joined(separator: " ")) failed: \(result)", sourceLocation: sourceLocation)
        if !result.succeeded { throw ChildProcess.Failed(command: ["ferry"] + args, result: result) }
        return result
    }

    /// Runs a command expected to fail with exit status 1 and `message` on stderr.
    @discardableResult
    func expectFailure(_ args: [String], mentioning message: String, sourceLocation: SourceLocation = #_sourceLocation) async throws
        -> ChildProcess.Result
    {
        let result = try await ferry.run(args)
        #expect(result.status == 1, "expected failure: \(result)", sourceLocation: sourceLocation)
        #expect(result.stderr.contains(message), "stderr should mention \"\(message)\": \(result.stderr)", sourceLocation: sourceLocation)
        return result
    }

    func backup(_ path: String, _ extra: [String] = []) async throws -> [String: Any] {
        try await expectSuccess(["backup", path, "--repo", repo, "--json"] + extra).json()
    }

    func restore(_ snapshot: String, to target: String) async throws -> ChildProcess.Result {
        try await ferry.run(["restore", snapshot, target, "--repo", repo])
    }

    func check(_ extra: [String] = []) async throws -> ChildProcess.Result {
        try await ferry.run(["check", "--repo", repo] + extra)
    }

    /// The repository's objects, straight from the bucket.
    func objects(_ prefix: String = "") async throws -> [ObjectInfo] {
        try await bucket().list(prefix: prefix)
    }

    /// One object's bytes, straight from the bucket.
    func object(_ name: String) async throws -> [UInt8] {
        try await bucket().get(name)
    }

    /// The repository's prefix of the bucket, through a store with the admin's credentials
    /// (what an attacker holding Ferry's credentials can do).
    func bucket() throws -> S3Store {
        try S3Store(
            configuration: S3Configuration(bucket: bucketName, prefix: self.prefix, endpoint: server.endpoint, addressing: .path),
            credentials: StaticCredentialsProvider(
                S3Credentials(accessKeyID: server.admin.accessKey, secretAccessKey: server.admin.secretKey)))
    }

    func remove() {
        dir.remove()
    }
}

/// A disk-like image: random data, text, zeros and a hole.
func makeImage(_ path: String, size: Int, seed: UInt64) throws {
    var random = DeterministicBytes(seed: seed)
    try ImageFile.create(path, size: Int64(size))
    let quarter = size / 4
    try ImageFile.write(path, at: 0, random.bytes(quarter))
    try ImageFile.write(path, at: Int64(quarter), random.text(quarter))
    try ImageFile.write(path, at: Int64(3 * quarter), random.bytes(quarter / 2))
}
