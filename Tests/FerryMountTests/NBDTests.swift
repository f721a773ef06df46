import FerryTestSupport
import Foundation
import Testing

/// `ferry serve-nbd` read by QEMU's own NBD client.
@Suite("ferry serve-nbd")
struct NBDTests {
    /// Whether something accepts connections on 127.0.0.1:`port`.
    static func listening(_ port: Int) -> Bool {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        return withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        } == 0
    }

    @Test func qemuReadsTheSnapshotAndCannotWrite() async throws {
        try TestEnvironment.requireTool("qemu-img")
        try TestEnvironment.requireTool("qemu-io")
        let fixture = try await MountFixture()
        defer { fixture.remove() }
        let expected = try TestImage.make(fixture.dir.file("disk.img"))
        let id = try await fixture.backup(fixture.dir.file("disk.img"))
        let port = try LoopbackPort.free()
        let server = try fixture.ferry.start(["serve-nbd", id, "--repo", fixture.repo, "--port", String(port)])
        let deadline = Date().addingTimeInterval(120)
        while !Self.listening(port) {
            guard server.process.isRunning, Date() < deadline else {
                server.kill()
                Issue.record("ferry serve-nbd did not listen: \(await server.wait())")
                return
            }
            try await Task.sleep(for: .milliseconds(20))
        }
        let out = fixture.dir.file("out.raw")
        try ChildProcess.run(["qemu-img", "convert", "-f", "raw", "-O", "raw", "nbd://127.0.0.1:\(port)/disk", out])
        // The export is the volume rounded up to whole sectors, the tail zeros.
        let copied = try ImageFile.read(out)
        #expect(copied.count == (expected.count + 511) / 512 * 512)
        #expect(Array(copied.prefix(expected.count)) == expected)
        #expect(copied.dropFirst(expected.count).allSatisfy { $0 == 0 })
        #expect(throws: ChildProcess.Failed.self) {
            try ChildProcess.run(["qemu-io", "-f", "raw", "-c", "write 0 512", "nbd://127.0.0.1:\(port)/disk"])
        }
        #expect(throws: ChildProcess.Failed.self) { try ChildProcess.run(["qemu-img", "info", "nbd://127.0.0.1:\(port)/nothing"]) }
        server.kill(SIGTERM)
        let result = await server.wait()
        #expect(result.succeeded, "\(result)")
        #expect(result.stdout == "nbd://127.0.0.1:\(port)")
    }
}
