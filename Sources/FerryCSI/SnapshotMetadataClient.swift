import FerryVolume
import GRPCCore
import GRPCNIOTransportHTTP2Posix
import Synchronization

/// The ranges a SnapshotMetadata call returned, merged and validated.
public struct SnapshotMetadataRanges: Sendable, Equatable {
    public var ranges: [Range<Int64>]
    /// The volume's size as the service reports it; nil when the stream carried no message
    /// (nothing allocated or changed).
    public var volumeCapacity: Int64?
    /// How many streams it took (more than 1 when an interrupted stream was resumed).
    public var attempts: Int
}

/// A client of the Kubernetes CSI SnapshotMetadata service (KEP-3314): `GetMetadataAllocated`
/// and `GetMetadataDelta` over gRPC with TLS, sending the audience-scoped `security_token` with
/// each request. Responses are streamed; a stream that breaks is resumed from the end of the last
/// range received (`starting_offset`). A FAILED_PRECONDITION or NOT_FOUND answer (the base
/// snapshot is gone, the driver cannot diff these two) returns nil: the caller then compares
/// everything.
public struct SnapshotMetadataClient: Sendable {
    public var endpoint: SnapshotMetadataEndpoint
    public var namespace: String
    /// Ranges per response message the service is asked for (it may send fewer).
    public var maxResults: Int32
    /// Streams tried before giving up on an interrupted call.
    public var maxAttempts: Int
    private let securityToken: String

    public init(
        endpoint: SnapshotMetadataEndpoint, securityToken: String, namespace: String, maxResults: Int32 = 1024, maxAttempts: Int = 4
    ) {
        self.endpoint = endpoint
        self.securityToken = securityToken
        self.namespace = namespace
        self.maxResults = maxResults
        self.maxAttempts = max(1, maxAttempts)
    }

    /// The allocated ranges of `snapshotName`, or nil when the service declines.
    public func allocated(snapshotName: String) async throws -> SnapshotMetadataRanges? {
        try await collect { client, offset, sink in
            var request = Snapshotmetadata_GetMetadataAllocatedRequest()
            request.securityToken = securityToken
            request.namespace = namespace
            request.snapshotName = snapshotName
            request.startingOffset = offset
            request.maxResults = maxResults
            try await client.getMetadataAllocated(request, options: Self.callOptions) { response in
                for try await message in response.messages {
                    try sink(message.volumeCapacityBytes, message.blockMetadata)
                }
            }
        }
    }

    /// The ranges changed between the snapshot whose CSI handle is `baseSnapshotID` and the
    /// VolumeSnapshot `targetSnapshotName`, or nil when the service declines.
    public func delta(baseSnapshotID: String, targetSnapshotName: String) async throws -> SnapshotMetadataRanges? {
        try await collect { client, offset, sink in
            var request = Snapshotmetadata_GetMetadataDeltaRequest()
            request.securityToken = securityToken
            request.namespace = namespace
            request.baseSnapshotID = baseSnapshotID
            request.targetSnapshotName = targetSnapshotName
            request.startingOffset = offset
            request.maxResults = maxResults
            try await client.getMetadataDelta(request, options: Self.callOptions) { response in
                for try await message in response.messages {
                    try sink(message.volumeCapacityBytes, message.blockMetadata)
                }
            }
        }
    }

    private static var callOptions: CallOptions {
        var options = CallOptions.defaults
        options.timeout = .seconds(600)
        return options
    }

    typealias Sink = @Sendable (Int64, [Snapshotmetadata_BlockMetadata]) throws -> Void
    typealias Call =
        @Sendable (Snapshotmetadata_SnapshotMetadata.Client<HTTP2ClientTransport.Posix>, Int64, @escaping Sink) async throws -> Void

    /// Runs `call` until its stream completes, resuming from the last range received.
    private func collect(_ call: Call) async throws -> SnapshotMetadataRanges? {
        let state = Mutex(Accumulator())
        let sink: Sink = { capacity, blocks in try state.withLock { try $0.add(capacity: capacity, blocks: blocks) } }
        var lastError = ""
        for attempt in 1...maxAttempts {
            let offset = state.withLock { $0.resumeOffset }
            do {
                let transport = try makeTransport()
                try await withGRPCClient(transport: transport) { client in
                    try await call(Snapshotmetadata_SnapshotMetadata.Client(wrapping: client), offset, sink)
                }
                return state.withLock { $0.result(attempts: attempt) }
            } catch let error as RPCError {
                switch error.code {
                case .failedPrecondition, .notFound:
                    return nil
                case .unavailable, .unknown, .internalError, .aborted, .deadlineExceeded, .resourceExhausted:
                    lastError = "\(error.code): \(error.message)"
                    continue
                default:
                    throw CSIError.service(code: "\(error.code)", message: error.message)
                }
            }
        }
        throw CSIError.gaveUp(attempts: maxAttempts, lastError: lastError)
    }

    private func makeTransport() throws -> HTTP2ClientTransport.Posix {
        let security: HTTP2ClientTransport.Posix.TransportSecurity
        if endpoint.plaintext {
            security = .plaintext
        } else if let pem = endpoint.caCertificatePEM {
            security = .tls { $0.trustRoots = .certificates([.bytes(pem, format: .pem)]) }
        } else {
            security = .tls
        }
        do {
            return try HTTP2ClientTransport.Posix(target: .dns(host: endpoint.host, port: endpoint.port), transportSecurity: security)
        } catch {
            throw CSIError.invalidEndpoint("\(error)")
        }
    }

    /// Merges streamed ranges and checks the ordering rules of the API.
    struct Accumulator: Sendable {
        var ranges = BlockRangeList()
        var capacity: Int64?
        var resumeOffset: Int64 = 0

        mutating func add(capacity: Int64, blocks: [Snapshotmetadata_BlockMetadata]) throws {
            guard capacity > 0 else { throw CSIError.invalidResponse("volume capacity \(capacity)") }
            if let known = self.capacity, known != capacity {
                throw CSIError.invalidResponse("volume capacity changed from \(known) to \(capacity) within a stream")
            }
            self.capacity = capacity
            for block in blocks {
                let end = block.byteOffset.addingReportingOverflow(block.sizeBytes)
                guard block.byteOffset >= 0, block.sizeBytes > 0, !end.overflow, end.partialValue <= capacity else {
                    throw CSIError.invalidResponse("range \(block.byteOffset)+\(block.sizeBytes) is outside the \(capacity)-byte volume")
                }
                guard end.partialValue > resumeOffset, block.byteOffset >= (ranges.ranges.last?.upperBound ?? 0) else {
                    throw CSIError.invalidResponse("range \(block.byteOffset)+\(block.sizeBytes) is out of order")
                }
                ranges.append(max(block.byteOffset, resumeOffset)..<end.partialValue)
                resumeOffset = end.partialValue
            }
        }

        func result(attempts: Int) -> SnapshotMetadataRanges {
            SnapshotMetadataRanges(ranges: ranges.ranges, volumeCapacity: capacity, attempts: attempts)
        }
    }
}
