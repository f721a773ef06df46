// Throughput of the S3 store alone: PUTs (and GETs) of equal-sized objects with N in flight.
//
//   ferry-s3-bench --endpoint http://127.0.0.1:8333 --bucket ferry [--prefix bench/]
//                  [--object-mib 32] [--total-mib 1024] [--concurrency 4] [--io-threads 1] [--get]
//
// Credentials come from the usual AWS variables. Prints one line per phase:
//   put  <objects> x <MiB> MiB  <seconds> s  <MiB/s> MiB/s  <requests> requests
import FerryBlob
import FerryHTTP
import Foundation

struct Arguments {
    var endpoint = ProcessInfo.processInfo.environment["FERRY_S3_ENDPOINT"] ?? "http://127.0.0.1:8333"
    var bucket = "ferry"
    var prefix = "bench-\(Int(Date().timeIntervalSince1970))/"
    var objectMiB = 32
    var totalMiB = 1024
    var concurrency = 4
    var ioThreads = 1
    var get = false

    init() throws {
        var iterator = CommandLine.arguments.dropFirst().makeIterator()
        while let argument = iterator.next() {
            func value() throws -> String {
                guard let next = iterator.next() else { throw BenchError("\(argument) needs a value") }
                return next
            }
            switch argument {
            case "--endpoint": endpoint = try value()
            case "--bucket": bucket = try value()
            case "--prefix": prefix = try value()
            case "--object-mib": objectMiB = Int(try value()) ?? objectMiB
            case "--total-mib": totalMiB = Int(try value()) ?? totalMiB
            case "--concurrency": concurrency = Int(try value()) ?? concurrency
            case "--io-threads": ioThreads = Int(try value()) ?? ioThreads
            case "--get": get = true
            default: throw BenchError("unknown argument \(argument)")
            }
        }
    }
}

struct BenchError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

func seconds(since start: ContinuousClock.Instant) -> Double {
    let elapsed = ContinuousClock.now - start
    return Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
}

func report(_ phase: String, objects: Int, objectMiB: Int, elapsed: Double) {
    let mib = Double(objects * objectMiB)
    print(String(format: "%@  %d x %d MiB  %.2f s  %.1f MiB/s  %d requests", phase, objects, objectMiB, elapsed, mib / elapsed, objects))
}

let arguments = try Arguments()
let environment = ProcessInfo.processInfo.environment
guard let key = environment["AWS_ACCESS_KEY_ID"], let secret = environment["AWS_SECRET_ACCESS_KEY"] else {
    throw BenchError("set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY")
}
let configuration = S3Configuration(
    bucket: arguments.bucket, prefix: arguments.prefix, endpoint: arguments.endpoint, region: environment["AWS_REGION"] ?? "us-east-1",
    multipartThreshold: Int.max, maxConcurrentRequests: arguments.concurrency, conditionalWrites: .honoured)
let client = try HTTPClient(configuration: HTTPClientConfiguration(
    maxConcurrentTransfers: arguments.concurrency, maxResponseBodySize: 1 << 20, ioThreads: arguments.ioThreads))
let store = try S3Store(
    configuration: configuration, credentials: StaticCredentialsProvider(S3Credentials(accessKeyID: key, secretAccessKey: secret)),
    client: client)

let objectSize = arguments.objectMiB << 20
let count = max(1, arguments.totalMiB / arguments.objectMiB)
// One random buffer; each object differs in its first 8 bytes.
var base = [UInt8](repeating: 0, count: objectSize)
var state = UInt64.random(in: 1...UInt64.max)
base.withUnsafeMutableBytes { raw in
    for index in stride(from: 0, to: raw.count - 7, by: 8) {
        state ^= state << 13
        state ^= state >> 7
        state ^= state << 17
        raw.storeBytes(of: state, toByteOffset: index, as: UInt64.self)
    }
}
let template = base

let putStart = ContinuousClock.now
try await withThrowingTaskGroup(of: Void.self) { group in
    var next = 0
    func add() {
        let index = next
        next += 1
        group.addTask {
            var bytes = template
            withUnsafeBytes(of: UInt64(index).littleEndian) { bytes.replaceSubrange(0..<8, with: $0) }
            try await store.put(String(format: "packs/%02x/object-%06d", index % 256, index), bytes)
        }
    }
    for _ in 0..<min(count, arguments.concurrency) { add() }
    while try await group.next() != nil {
        if next < count { add() }
    }
}
report("put", objects: count, objectMiB: arguments.objectMiB, elapsed: seconds(since: putStart))

if arguments.get {
    let getStart = ContinuousClock.now
    try await withThrowingTaskGroup(of: Void.self) { group in
        var next = 0
        func add() {
            let index = next
            next += 1
            group.addTask {
                let bytes = try await store.get(String(format: "packs/%02x/object-%06d", index % 256, index))
                guard bytes.count == objectSize else { throw BenchError("object \(index) has \(bytes.count) bytes") }
            }
        }
        for _ in 0..<min(count, arguments.concurrency) { add() }
        while try await group.next() != nil {
            if next < count { add() }
        }
    }
    report("get", objects: count, objectMiB: arguments.objectMiB, elapsed: seconds(since: getStart))
}
let names = try await store.list(prefix: "").map(\.name)
try await store.delete(names)
