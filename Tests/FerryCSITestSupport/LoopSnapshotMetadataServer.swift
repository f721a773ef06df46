import FerryCSI
import FerryTestSupport
import FerryVolume
import Foundation
import GRPCCore
import GRPCNIOTransportHTTP2Posix
import Synchronization

/// A SnapshotMetadata service (KEP-3314) over loop-device "snapshots": each VolumeSnapshot name
/// and CSI handle maps to a loop device, GetMetadataDelta compares two devices block by block and
/// GetMetadataAllocated reports a device's non-zero blocks, both as FIXED_LENGTH ranges. It checks
/// the security token and namespace like the real sidecar (against one token, or through a
/// TokenReview-like check the test supplies), and can break a stream after a given number of
/// messages to exercise resuming. Snapshots may be added while it runs, as a test cuts them.
package struct LoopSnapshotMetadataServer: Snapshotmetadata_SnapshotMetadata.SimpleServiceProtocol {
    package struct Snapshot: Sendable {
        package var name: String
        package var handle: String
        package var device: String

        package init(name: String, handle: String, device: String) {
            self.name = name
            self.handle = handle
            self.device = device
        }
    }

    /// A request as the server saw it (without the token).
    package struct Seen: Sendable, Equatable {
        package var method: String
        package var startingOffset: Int64
        /// The base snapshot handle (delta) and the target snapshot's name.
        package var base: String = ""
        package var target: String = ""

        package init(method: String, startingOffset: Int64, base: String = "", target: String = "") {
            self.method = method
            self.startingOffset = startingOffset
            self.base = base
            self.target = target
        }
    }

    package final class Control: Sendable {
        /// Break the next stream after this many messages (once).
        package let breakAfter = Mutex<Int?>(nil)
        package let seen = Mutex<[Seen]>([])
        package let snapshots: Mutex<[Snapshot]>

        init(snapshots: [Snapshot]) { self.snapshots = Mutex(snapshots) }

        package func add(_ snapshot: Snapshot) { snapshots.withLock { $0.append(snapshot) } }
    }

    /// Says whether a request's token may read snapshots of a namespace: nil when it may, else
    /// the error to answer with.
    package typealias Authorizer = @Sendable (_ token: String, _ namespace: String) async -> RPCError?

    let authorizer: Authorizer
    let blockSize: Int64
    package let control: Control

    /// Accepts exactly `token`, for `namespace`.
    package init(snapshots: [Snapshot], token: String, namespace: String, blockSize: Int64) {
        self.init(snapshots: snapshots, blockSize: blockSize) { presented, asked in
            guard presented == token else { return RPCError(code: .unauthenticated, message: "invalid security token") }
            guard asked == namespace else { return RPCError(code: .permissionDenied, message: "namespace \(asked) is not allowed") }
            return nil
        }
    }

    package init(snapshots: [Snapshot], blockSize: Int64, authorizer: @escaping Authorizer) {
        self.authorizer = authorizer
        self.blockSize = blockSize
        self.control = Control(snapshots: snapshots)
    }

    private func snapshot(_ test: (Snapshot) -> Bool) -> Snapshot? {
        control.snapshots.withLock { $0.first(where: test) }
    }

    package func getMetadataAllocated(
        request: Snapshotmetadata_GetMetadataAllocatedRequest,
        response: RPCWriter<Snapshotmetadata_GetMetadataAllocatedResponse>, context: ServerContext
    ) async throws {
        control.seen.withLock { $0.append(Seen(method: "allocated", startingOffset: request.startingOffset, target: request.snapshotName)) }
        if let denied = await authorizer(request.securityToken, request.namespace) { throw denied }
        guard let snapshot = snapshot({ $0.name == request.snapshotName }) else {
            throw RPCError(code: .notFound, message: "VolumeSnapshot \(request.snapshotName) not found")
        }
        let device = try RawBlockSource(path: snapshot.device, force: true)
        defer { device.close() }
        let blocks = try changedBlocks(size: device.size, from: request.startingOffset) { offset, a in
            try device.read(at: offset, into: a)
            return !a.allSatisfy { $0 == 0 }
        }
        try await stream(blocks, capacity: device.size, maxResults: request.maxResults) { capacity, metadata in
            var message = Snapshotmetadata_GetMetadataAllocatedResponse()
            message.blockMetadataType = .fixedLength
            message.volumeCapacityBytes = capacity
            message.blockMetadata = metadata
            try await response.write(message)
        }
    }

    package func getMetadataDelta(
        request: Snapshotmetadata_GetMetadataDeltaRequest,
        response: RPCWriter<Snapshotmetadata_GetMetadataDeltaResponse>, context: ServerContext
    ) async throws {
        control.seen.withLock {
            $0.append(
                Seen(
                    method: "delta", startingOffset: request.startingOffset, base: request.baseSnapshotID,
                    target: request.targetSnapshotName))
        }
        if let denied = await authorizer(request.securityToken, request.namespace) { throw denied }
        guard let base = snapshot({ $0.handle == request.baseSnapshotID }) else {
            throw RPCError(code: .failedPrecondition, message: "base snapshot \(request.baseSnapshotID) does not exist")
        }
        guard let target = snapshot({ $0.name == request.targetSnapshotName }) else {
            throw RPCError(code: .notFound, message: "VolumeSnapshot \(request.targetSnapshotName) not found")
        }
        let a = try RawBlockSource(path: base.device, force: true), b = try RawBlockSource(path: target.device, force: true)
        defer { a.close(); b.close() }
        guard a.size == b.size else { throw RPCError(code: .failedPrecondition, message: "snapshots differ in size") }
        var other = [UInt8](repeating: 0, count: Int(blockSize))
        let blocks = try changedBlocks(size: b.size, from: request.startingOffset) { offset, buffer in
            try b.read(at: offset, into: buffer)
            let n = buffer.count
            try other.withUnsafeMutableBytes { try a.read(at: offset, into: UnsafeMutableRawBufferPointer(rebasing: $0[0..<n])) }
            return !buffer.elementsEqual(other[0..<n])
        }
        try await stream(blocks, capacity: b.size, maxResults: request.maxResults) { capacity, metadata in
            var message = Snapshotmetadata_GetMetadataDeltaResponse()
            message.blockMetadataType = .fixedLength
            message.volumeCapacityBytes = capacity
            message.blockMetadata = metadata
            try await response.write(message)
        }
    }

    /// Offsets of the blocks at or after `start` (block-aligned) for which `test` holds.
    private func changedBlocks(size: Int64, from start: Int64, _ test: (Int64, UnsafeMutableRawBufferPointer) throws -> Bool) throws
        -> [Int64]
    {
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: Int(blockSize), alignment: 16)
        defer { buffer.deallocate() }
        var blocks: [Int64] = []
        var offset = max(0, start) / blockSize * blockSize
        while offset < size {
            let n = Int(min(blockSize, size - offset))
            if try test(offset, UnsafeMutableRawBufferPointer(rebasing: buffer[0..<n])) { blocks.append(offset) }
            offset += blockSize
        }
        return blocks
    }

    private func stream(
        _ blocks: [Int64], capacity: Int64, maxResults: Int32, write: (Int64, [Snapshotmetadata_BlockMetadata]) async throws -> Void
    ) async throws {
        let perMessage = maxResults > 0 ? Int(maxResults) : 64
        var sent = 0
        for start in stride(from: 0, to: blocks.count, by: perMessage) {
            if let limit = control.breakAfter.withLock({ $0 }), sent == limit {
                control.breakAfter.withLock { $0 = nil }
                throw RPCError(code: .unavailable, message: "stream interrupted by the test")
            }
            try await write(
                capacity,
                blocks[start..<min(blocks.count, start + perMessage)].map { offset in
                    var block = Snapshotmetadata_BlockMetadata()
                    block.byteOffset = offset
                    block.sizeBytes = min(blockSize, capacity - offset)
                    return block
                })
            sent += 1
        }
    }
}

/// Runs the test server on 127.0.0.1 (a free port) with TLS for the duration of `body`.
package func withSnapshotMetadataServer<T: Sendable>(
    _ service: LoopSnapshotMetadataServer, certificates: TestCertificates,
    _ body: (SnapshotMetadataEndpoint) async throws -> T
) async throws -> T {
    let transport = HTTP2ServerTransport.Posix(
        address: .ipv4(host: "127.0.0.1", port: 0),
        transportSecurity: .tls(
            certificateChain: [.bytes(Array(certificates.serverCertificatePEM.utf8), format: .pem)],
            privateKey: .bytes(Array(certificates.serverKeyPEM.utf8), format: .pem)))
    return try await withGRPCServer(transport: transport, services: [service]) { _ in
        guard let port = try await transport.listeningAddress.ipv4?.port else { throw CSIError.invalidEndpoint("no port") }
        return try await body(SnapshotMetadataEndpoint(host: "localhost", port: port, caCertificatePEM: Array(certificates.caPEM.utf8)))
    }
}
