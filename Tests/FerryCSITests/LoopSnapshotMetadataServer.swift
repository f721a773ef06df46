@testable import FerryCSI
import FerryVolume
import Foundation
import GRPCCore
import GRPCNIOTransportHTTP2Posix
import Synchronization

/// A SnapshotMetadata service (KEP-3314) over loop-device "snapshots": each VolumeSnapshot name
/// and CSI handle maps to a loop device, GetMetadataDelta compares two devices block by block and
/// GetMetadataAllocated reports a device's non-zero blocks, both as FIXED_LENGTH ranges. It checks
/// the security token and namespace like the real sidecar, and can break a stream after a given
/// number of messages to exercise resuming.
struct LoopSnapshotMetadataServer: Snapshotmetadata_SnapshotMetadata.SimpleServiceProtocol {
    struct Snapshot: Sendable {
        var name: String
        var handle: String
        var device: String
    }

    /// A request as the server saw it (without the token).
    struct Seen: Sendable, Equatable {
        var method: String
        var startingOffset: Int64
    }

    final class Control: Sendable {
        /// Break the next stream after this many messages (once).
        let breakAfter = Mutex<Int?>(nil)
        let seen = Mutex<[Seen]>([])
    }

    let snapshots: [Snapshot]
    let token: String
    let namespace: String
    let blockSize: Int64
    let control = Control()

    func getMetadataAllocated(
        request: Snapshotmetadata_GetMetadataAllocatedRequest,
        response: RPCWriter<Snapshotmetadata_GetMetadataAllocatedResponse>, context: ServerContext
    ) async throws {
        control.seen.withLock { $0.append(Seen(method: "allocated", startingOffset: request.startingOffset)) }
        try authorize(request.securityToken, request.namespace)
        guard let snapshot = snapshots.first(where: { $0.name == request.snapshotName }) else {
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

    func getMetadataDelta(
        request: Snapshotmetadata_GetMetadataDeltaRequest,
        response: RPCWriter<Snapshotmetadata_GetMetadataDeltaResponse>, context: ServerContext
    ) async throws {
        control.seen.withLock { $0.append(Seen(method: "delta", startingOffset: request.startingOffset)) }
        try authorize(request.securityToken, request.namespace)
        guard let base = snapshots.first(where: { $0.handle == request.baseSnapshotID }) else {
            throw RPCError(code: .failedPrecondition, message: "base snapshot \(request.baseSnapshotID) does not exist")
        }
        guard let target = snapshots.first(where: { $0.name == request.targetSnapshotName }) else {
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

    private func authorize(_ token: String, _ namespace: String) throws {
        guard token == self.token else { throw RPCError(code: .unauthenticated, message: "invalid security token") }
        guard namespace == self.namespace else { throw RPCError(code: .permissionDenied, message: "namespace \(namespace) is not allowed") }
    }

    /// Offsets of the blocks at or after `start` (block-aligned) for which `test` holds.
    private func changedBlocks(size: Int64, from start: Int64, _ test: (Int64, UnsafeMutableRawBufferPointer) throws -> Bool) throws -> [Int64] {
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

    private func stream(_ blocks: [Int64], capacity: Int64, maxResults: Int32, write: (Int64, [Snapshotmetadata_BlockMetadata]) async throws -> Void) async throws {
        let perMessage = maxResults > 0 ? Int(maxResults) : 64
        var sent = 0
        for start in stride(from: 0, to: blocks.count, by: perMessage) {
            if let limit = control.breakAfter.withLock({ $0 }), sent == limit {
                control.breakAfter.withLock { $0 = nil }
                throw RPCError(code: .unavailable, message: "stream interrupted by the test")
            }
            try await write(capacity, blocks[start..<min(blocks.count, start + perMessage)].map { offset in
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
func withSnapshotMetadataServer<T: Sendable>(
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
